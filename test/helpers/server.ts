import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import createClient from 'openapi-fetch';
import type { paths } from '../../generated/openapi.ts';
import { createApp, type TesseraApp } from '../../src/app.ts';
import { appServer } from '../../src/server/http-server.ts';
import { testConfig, type Config } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { Database } from '../../src/storage/db.ts';
import { MemoryStore, RedisStore, type Store } from '../../src/storage/store/index.ts';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from './env.ts';
import { recordResponses } from './response-recorder.ts';
import { checkResponse } from './spec.ts';

export interface TestServer {
  url: string;
  app: TesseraApp;
  db: Database;
  store: Store;
  config: Config;
  /** Typed client for spec routes (openapi-fetch on the generated paths). */
  api: ReturnType<typeof createClient<paths>>;
  close(): Promise<void>;
}

export interface TestServerOptions {
  config?: Partial<Config>;
  /** 'redis' (default) connects a fresh RedisStore; pass a Store to share one between instances. */
  store?: 'redis' | 'memory' | Store;
  db?: Database;
  databaseUrl?: string;
  redisUrl?: string;
  /** A logger to read audit lines from (see auditLog); silent by default. */
  log?: Logger;
  /** Config that depends on the server's own address (e.g. an IdP whose client redirects here); applied over `config`. */
  configFor?: (url: string) => Promise<Partial<Config>> | Partial<Config>;
}

/** The real app, in-process, on port 0, against real Postgres and Redis. */
export async function startServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const db = opts.db ?? new Database(opts.databaseUrl ?? TEST_DATABASE_URL);
  const ownStore = typeof opts.store !== 'object';
  const store: Store =
    typeof opts.store === 'object' ? opts.store : opts.store === 'memory' ? new MemoryStore() : await RedisStore.connect(opts.redisUrl ?? TEST_REDIS_URL);
  const log = opts.log ?? createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  // Listen first so the issuer (PUBLIC_URL) can be the address the server really has; the server is production's.
  const { server, serve } = appServer();
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const config = testConfig({ publicUrl: url, ...opts.config, ...(await opts.configFor?.(url)) });
  const app = await createApp({ config, db, store, log });
  // Every response on a spec route is checked against openapi.yaml; a test that sees one break it fails.
  serve(app, recordResponses(app.handler, checkResponse));
  return {
    url,
    app,
    db,
    store,
    config,
    api: createClient<paths>({ baseUrl: `${url}/openapi/v1` }),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app.close();
      if (ownStore) await store.close();
      if (!opts.db) await db.close();
    },
  };
}

export { auditLog } from './log.ts';
