import { once } from 'node:events';
import type { Server } from 'node:http';
import path from 'node:path';
import { DEMO_EMAIL, seedDemo, type DemoSeed } from '../admin/seed.ts';
import { createApp, type TesseraApp } from '../app.ts';
import { pruneTokens } from '../auth/pruner.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { AccountRepo } from '../storage/repos/accounts.ts';
import { createStore, type Store } from '../storage/store/index.ts';
import type { Database } from '../storage/db.ts';
import { openDatabase, type OpenedDatabase } from './bootstrap.ts';
import { ensureDocs } from './docs.ts';
import { appServer } from './http-server.ts';
import { installShutdown } from './shutdown.ts';
import { startTelemetry, type Telemetry } from '../observability/telemetry.ts';
import { dependencyStates } from '../system/health.ts';

/** A start that cannot go on; main prints the message as one line and exits 1. */
export class StartError extends Error {}

async function listen(app: TesseraApp, port: number, host: string): Promise<Server> {
  const server = appServer(app).server.listen(port, host);
  try {
    await once(server, 'listening');
    return server;
  } catch (err) {
    throw listenFailure(err, 'PORT', port, host);
  }
}

/** Why a listener could not open, as one line that names the setting to change. */
function listenFailure(err: unknown, variable: 'PORT' | 'METRICS_PORT', port: number, host: string): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  const other = port === 65535 ? 8081 : port + 1;
  if (code === 'EADDRINUSE') {
    return new StartError(`port ${port} on ${host} is already in use. Stop whatever uses it, or start on another port, e.g. ${variable}=${other} npm start`);
  }
  if (code === 'EACCES') return new StartError(`port ${port} on ${host} needs more privileges; use a port above 1023, e.g. ${variable}=${variable === 'PORT' ? 8080 : 9464}`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') return new StartError(`HOST=${host} is not an address of this machine`);
  return err;
}

/**
 * The demo workspace is seeded only once the server is listening: a first start
 * that fails before that (a port in use) leaves the database empty, so the next
 * start seeds it and prints the password. Only an empty embedded database is seeded;
 * an external DATABASE_URL never is.
 */
async function demoAccount(db: Database, cfg: Config): Promise<{ seeded: DemoSeed } | { exists: true } | null> {
  const accounts = new AccountRepo(db);
  if ((await accounts.count()) === 0) return { seeded: await seedDemo(db, cfg) };
  return (await accounts.findByEmail(DEMO_EMAIL)) ? { exists: true } : null;
}

function banner(cfg: Config, database: OpenedDatabase, demo: Awaited<ReturnType<typeof demoAccount>>): string {
  const lines = [
    '',
    `  Tessera is running at ${cfg.publicUrl}`,
    `  Home:    ${cfg.publicUrl}/`,
    `  Device:  ${cfg.publicUrl}/device`,
    `  Account: ${cfg.publicUrl}/account`,
    `  Docs:    ${cfg.publicUrl}/docs`,
    `  API:     ${cfg.publicUrl}/openapi/v1/_health`,
  ];
  if (database.embedded) lines.push(`  Data:    ${path.resolve(cfg.dataDir)} (embedded Postgres in ${database.embedded})`);
  if (demo && 'seeded' in demo) {
    const d = demo.seeded;
    lines.push(
      '',
      '  Demo workspace created. Sign in with (the password is shown only this once):',
      `    email:    ${d.email}`,
      `    password: ${d.password}`,
      ...d.apps.map((a) => `    ${a.mode.padEnd(10)} app ${a.id}  (${a.name})`),
    );
  } else if (demo) {
    lines.push(
      '',
      `  Demo account: ${DEMO_EMAIL} (its password was printed at the first start).`,
      `  Lost it? npm run server -- admin reset-password --email ${DEMO_EMAIL}`,
    );
  }
  return lines.join('\n') + '\n';
}

/**
 * `tessera-server start`: database (migrated), store, app, listen, then the demo
 * seed and the banner. Anything that fails after the database is up stops it
 * again, so a failed start never leaves an embedded Postgres behind.
 */
export async function startServer(cfg: Config, log: Logger): Promise<void> {
  const telemetry = await startTelemetry(cfg, log);
  const database = await openDatabase(cfg, log, { attach: false }).catch(async (err: unknown) => {
    await telemetry.close().catch(() => undefined);
    throw err;
  });
  let store: Store | undefined;
  let app: TesseraApp | undefined;
  let server: Server | undefined;
  let demo: Awaited<ReturnType<typeof demoAccount>> = null;
  try {
    store = await createStore(cfg.redis, log);
    app = await createApp({ config: cfg, db: database.db, store, log });
    const services = app.services;
    telemetry.observe({ routes: app.routes.routes, probe: () => dependencyStates(services) });
    ensureDocs(log);
    server = await listen(app, cfg.port, cfg.host);
    await telemetry.listen().catch((err: unknown) => {
      throw listenFailure(err, 'METRICS_PORT', cfg.metricsPort!, cfg.host);
    });
    if (database.embedded) demo = await demoAccount(database.db, cfg);
  } catch (err) {
    server?.close();
    await app?.close().catch(() => undefined);
    await store?.close().catch(() => undefined);
    await telemetry.close().catch(() => undefined);
    await database.stop().catch(() => undefined);
    throw err;
  }
  await running({ cfg, log, database, store, app, server, telemetry }, demo);
}

async function running(
  { cfg, log, database, store, app, server, telemetry }: { cfg: Config; log: Logger; database: OpenedDatabase; store: Store; app: TesseraApp; server: Server; telemetry: Telemetry },
  demo: Awaited<ReturnType<typeof demoAccount>>,
): Promise<void> {
  const pruner = setInterval(() => void pruneTokens(database.db, store, cfg.accessTokenRetentionDays, log).catch(() => undefined), 6 * 3600_000).unref();
  log.info({ url: cfg.publicUrl, edition: cfg.edition }, 'tessera listening');
  process.stdout.write(banner(cfg, database, demo));

  installShutdown({ server, app, store, database, telemetry, log, timers: [pruner], drainMs: cfg.shutdownDrainMs });
}
