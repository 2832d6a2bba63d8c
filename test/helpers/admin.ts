import { execFile } from 'node:child_process';
import path from 'node:path';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from './env.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Runs `tessera-server admin …` as its own process against the test Postgres and Redis (so its changes are published to running servers). */
export function admin(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/main.ts', 'admin', ...args],
      { cwd: ROOT, env: { ...process.env, DATABASE_URL: TEST_DATABASE_URL, REDIS_URL: TEST_REDIS_URL, LOG_LEVEL: 'silent' } },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
