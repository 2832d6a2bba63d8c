import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { subjectOf } from '../../src/apps/run-service.ts';
import { Database } from '../../src/storage/db.ts';
import { migrate } from '../../src/storage/migrate.ts';
import { TEST_DATABASE_URL } from '../helpers/env.ts';
import { createTestApp, createWorkspace, uniq } from '../helpers/fixtures.ts';

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

describe('migration 006: owners of runs and conversations', () => {
  it('when stored keys are re-keyed, then a key one known issuer explains gets its unambiguous form and one it cannot is set aside', async () => {
    // A schema of its own: the rows are written in the old form, then 006 runs again on them.
    const schema = `m006_${uniq()}`;
    await db.query(`CREATE SCHEMA ${schema}`);
    const url = new URL(TEST_DATABASE_URL);
    url.searchParams.set('options', `-c search_path=${schema}`);
    const scoped = new Database(url.toString(), 2);
    try {
      await migrate(scoped);
      const appId = await createTestApp(scoped, await createWorkspace(scoped));
      await scoped.query(`INSERT INTO app_grants (app_id, subject_issuer, email) VALUES ($1, 'https://idp.example', 'a@corp.example')`, [appId]);
      const accountKey = `account:${randomUUID()}`;
      const old: Record<string, string> = {
        // Both gateways are configured: which one wrote this cannot be known.
        'external:https://gw.example:8443:bob': 'unattributed:external:https://gw.example:8443:bob',
        'external:https://gw.example:carol': subjectOf({ type: 'end_user', issuer: 'https://gw.example', subject: 'carol' }),
        // Known from a grant; the subject's own `:` and `%` are escaped.
        'external:https://idp.example:u:1%x': subjectOf({ type: 'end_user', issuer: 'https://idp.example', subject: 'u:1%x' }),
        'external:corp:dave': subjectOf({ type: 'end_user', issuer: 'corp', subject: 'dave' }),
        'external:https://gone.example:erin': 'unattributed:external:https://gone.example:erin',
        [accountKey]: accountKey,
      };
      for (const subject of Object.keys(old)) {
        const [c] = await scoped.query<{ id: string }>(`INSERT INTO conversations (app_id, subject, name) VALUES ($1, $2, 'c') RETURNING id`, [appId, subject]);
        await scoped.query(`INSERT INTO messages (app_id, subject, conversation_id, query, status) VALUES ($1, $2, $3, 'q', 'succeeded')`, [appId, subject, c!.id]);
        await scoped.query(`INSERT INTO workflow_runs (app_id, subject, status) VALUES ($1, $2, 'succeeded')`, [appId, subject]);
      }
      await scoped.query(`DELETE FROM schema_migrations WHERE name = '006_unambiguous_run_owners.sql'`);
      expect(await migrate(scoped, { knownIssuers: ['https://gw.example', 'https://gw.example:8443'] })).toEqual(['006_unambiguous_run_owners.sql']);

      expect(old['external:https://gw.example:carol']).toBe('external:https%3A//gw.example:carol');
      for (const table of ['conversations', 'messages', 'workflow_runs']) {
        const rows = await scoped.query<{ subject: string }>(`SELECT subject FROM ${table} ORDER BY subject`);
        expect(rows.map((r) => r.subject), table).toEqual(Object.values(old).sort());
      }
    } finally {
      await scoped.close();
      await db.query(`DROP SCHEMA ${schema} CASCADE`);
    }
  });
});
