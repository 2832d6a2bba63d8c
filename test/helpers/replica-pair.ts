import { describe, expect, it } from 'vitest';
import { RedisStore, type RedisDeployment, type StoreDeployment } from '../../src/storage/store/index.ts';
import { topologyFor } from '../../src/storage/store/redis-topology.ts';
import { deviceLogin } from './console.ts';
import { form } from './device.ts';
import { createAccount, mintToken, type TestAccount } from './fixtures.ts';
import { reportTiming } from './load.ts';
import { startReplica, type ReplicaProcess } from './replica-process.ts';
import { startServer, type TestServer } from './server.ts';
import { expectMatchesSpec } from './spec.ts';

/** The store's command timeout: no answer may take longer than this, plus what a busy 2-core machine adds. */
export const COMMAND_TIMEOUT_MS = 2_000;
export const HANG_MS = COMMAND_TIMEOUT_MS + 2_000;

/** GET /me with a token, given up after HANG_MS (a hang shows as a TimeoutError). */
export const me = (server: { url: string }, token: string) => fetch(`${server.url}/openapi/v1/me`, { headers: { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(HANG_MS) });

/** ms until `server` refuses a token just revoked elsewhere (it may accept it until the invalidation arrives). */
export async function refusedWithin(server: { url: string }, token: string): Promise<number> {
  const start = Date.now();
  for (;;) {
    if ((await me(server, token)).status === 401) return Date.now() - start;
    if (Date.now() - start > 10_000) throw new Error('a revoked token was still accepted after 10 s');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Two Tessera replicas in processes of their own (a and b) on one Redis deployment and the
 * test database, and this worker's own app instance on the same deployment (`fixture`),
 * which mints tokens for the tests; `account` signs in and approves.
 */
export interface ReplicaPair {
  a: ReplicaProcess;
  b: ReplicaProcess;
  fixture: TestServer;
  account: TestAccount;
  close(): Promise<void>;
}

export async function startReplicaPair(deployment: RedisDeployment, env: Record<string, string>): Promise<ReplicaPair> {
  const [a, b] = await Promise.all([startReplica('a', env), startReplica('b', env)]);
  const fixture = await startServer({ store: await RedisStore.open(topologyFor(deployment)) });
  return {
    a,
    b,
    fixture,
    account: await createAccount(fixture.db),
    async close() {
      await Promise.all([a.close(), b.close()]);
      await fixture.close();
      await fixture.store.close();
    },
  };
}

/** What two replicas on any deployment must do together: one login across them, one rate limit, revocation everywhere. */
export function describeReplicaPair(deployment: StoreDeployment, pair: () => ReplicaPair): void {
  describe(`two replicas on ${deployment}`, () => {
    it(`when a device login starts on one replica and is approved on the other, then its token works on both, and /_health says ${deployment}`, async () => {
      const { a, b, account } = pair();
      const token = await deviceLogin(a, b, account);
      for (const r of [a, b]) expect(await (await me(r, token)).json()).toMatchObject({ sub: account.id, prefix: 'tsa_' });
      const body = await (await fetch(`${b.url}/openapi/v1/_health`)).json();
      expect(body).toEqual({ ok: true, version: expect.any(String), checks: { database: 'ok', store: 'ok' }, store_deployment: deployment });
      expectMatchesSpec('get', '/_health', 200, body);
    });

    it('when 200 requests for one token arrive at both replicas at once, then exactly 60 pass and the rest get 429', async () => {
      const { a, b, fixture, account } = pair();
      const token = await mintToken(fixture, account);
      const statuses = await Promise.all(Array.from({ length: 200 }, (_, i) => me(i % 2 ? a : b, token).then((r) => r.status)));
      expect(statuses.filter((s) => s === 200)).toHaveLength(60);
      expect(statuses.filter((s) => s === 429)).toHaveLength(140);
    });

    it('when a token is revoked on one replica, then the other refuses it within 1 s', async () => {
      const { a, b, account } = pair();
      const token = await deviceLogin(b, a, account);
      for (const r of [a, b]) expect((await me(r, token)).status).toBe(200);
      expect((await form(`${a.url}/openapi/v1/oauth/revoke`, { token })).status).toBe(200);
      const ms = await refusedWithin(b, token);
      reportTiming(`${deployment}: revoked on a → refused on b`, ms);
      expect(ms).toBeLessThan(1_000);
    });
  });
}

/** After a failover: a new login across the replicas, and a revocation on one refused on the other within 1 s. */
export async function loginAndRevokeAcross(p: ReplicaPair): Promise<void> {
  const token = await deviceLogin(p.b, p.a, p.account);
  for (const r of [p.a, p.b]) expect((await me(r, token)).status).toBe(200);
  expect((await form(`${p.b.url}/openapi/v1/oauth/revoke`, { token })).status).toBe(200);
  expect(await refusedWithin(p.a, token)).toBeLessThan(1_000);
}
