import { readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/storage/db.ts';
import { migrate } from '../../src/storage/migrate.ts';
import { TEST_DATABASE_URL } from '../helpers/env.ts';

const db = new Database(TEST_DATABASE_URL);
afterAll(() => db.close());

describe('migrations', () => {
  it('when run again (twice at once), then nothing is applied and each file is recorded once', async () => {
    const results = await Promise.all([migrate(db), migrate(db)]);
    expect(results).toEqual([[], []]);
    const files = readdirSync(new URL('../../src/storage/migrations/', import.meta.url)).filter((f) => f.endsWith('.sql'));
    const rows = await db.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY name');
    expect(rows.map((r) => r.name)).toEqual(files.sort());
  });

  it('then the partial unique index allows one live token per device only', async () => {
    const email = `idx-${Date.now()}@example.test`;
    const insert = () =>
      db.query(
        `INSERT INTO oauth_access_tokens (token_hash, prefix, subject_email, subject_issuer, client_id, device_label, expires_at)
         VALUES (md5(random()::text), 'tsa_', $1, 'tessera:account', 'tessera-cli', 'x', now() + interval '1 day')`,
        [email],
      );
    await insert();
    await expect(insert()).rejects.toThrow(/duplicate key/);
    await db.query('UPDATE oauth_access_tokens SET revoked_at = now(), token_hash = NULL WHERE subject_email = $1', [email]);
    await insert();
  });
});
