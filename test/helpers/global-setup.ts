import { Redis } from 'ioredis';
import { Database } from '../../src/storage/db.ts';
import { migrate } from '../../src/storage/migrate.ts';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from './env.ts';

/** Fails the whole run loudly when Postgres or Redis is missing, then migrates once. */
export default async function setup(): Promise<void> {
  const db = new Database(TEST_DATABASE_URL);
  try {
    await migrate(db);
  } catch (err) {
    throw new Error(`tests need a real Postgres at ${TEST_DATABASE_URL}: ${(err as Error).message}`);
  } finally {
    await db.close();
  }
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw new Error(`tests need a real Redis at ${TEST_REDIS_URL}: ${(err as Error).message}`);
  }
  try {
    // Per-IP windows last up to an hour and every local test client is 127.0.0.1:
    // start each run with empty IP buckets so earlier runs cannot push this one over.
    for (const ns of ['device-code', 'device-lookup', 'console-signin', 'console-signin-ip']) {
      for await (const keys of redis.scanStream({ match: `rl:${ns}:*`, count: 500 })) {
        if ((keys as string[]).length) await redis.del(...(keys as string[]));
      }
    }
  } finally {
    redis.disconnect();
  }
}
