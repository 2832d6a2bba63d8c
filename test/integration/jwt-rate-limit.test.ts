import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace, uniq } from '../helpers/fixtures.ts';
import { jwtServerConfig, minters, startJwtIssuers, type JwtIssuers } from '../helpers/jwt-server.ts';
import { makeKey, mint } from '../helpers/jwks.ts';
import { get } from '../helpers/runs.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { expectMatchesSpec } from '../helpers/spec.ts';

// The per-(iss, sub) limit across two replicas sharing one Postgres and one Redis, with a
// freshly signed JWT on every request (what a JWT-signing gateway does).
let issuers: JwtIssuers;
let replicas: TestServer[];
let mk: ReturnType<typeof minters>;

beforeAll(async () => {
  issuers = await startJwtIssuers();
  const config = jwtServerConfig(issuers.trusted());
  replicas = [await startServer({ config }), await startServer({ config })];
  const workspace = await createWorkspace(replicas[0]!.db);
  mk = minters(issuers.kit, () => workspace);
});
afterAll(async () => {
  await Promise.all(replicas.map((r) => r.close()));
  await issuers.close();
});

type Answer = { status: number; headers: Headers; body: { error?: string; retry_after_ms?: number } };

/** Sends every token once, alternating replicas, `width` requests at a time. */
async function spread(tokens: string[], width = 10): Promise<Answer[]> {
  const out: Answer[] = [];
  for (let i = 0; i < tokens.length; i += width) {
    const batch = tokens.slice(i, i + width).map(async (t, j) => {
      const res = await get(replicas[(i + j) % 2]!, '/me', t);
      return { status: res.status, headers: res.headers, body: await res.json() };
    });
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

describe('rate limit per (iss, sub) across replicas', () => {
  it('when 200 requests each carry a freshly minted JWT for one subject, split over two replicas, then exactly 60 pass', async () => {
    const subject = `svc-${uniq()}`;
    // Forged tokens for the same subject first: they fail verification and must not spend its budget.
    const impostor = await makeKey('EdDSA', issuers.kit.ed.kid);
    const forged = await Promise.all(Array.from({ length: 20 }, (_, i) => mint(impostor, mk.claims.gateway({ client_id: subject, jti: `forged-${i}` }))));
    for (const res of await spread(forged)) expect(res.status).toBe(401);

    const tokens = await Promise.all(Array.from({ length: 200 }, (_, i) => mk.gateway({ client_id: subject, jti: `req-${i}` })));
    expect(new Set(tokens).size).toBe(200);
    const answers = await spread(tokens);
    const ok = answers.filter((r) => r.status === 200);
    const limited = answers.filter((r) => r.status === 429);
    expect(ok).toHaveLength(60);
    expect(limited).toHaveLength(140);
    // Both replicas served part of the 60: the window is shared, not per replica.
    const served = new Set(answers.flatMap((r, i) => (r.status === 200 ? [i % 2] : [])));
    expect(served).toEqual(new Set([0, 1]));

    const res = limited[0]!;
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(res.headers.get('ratelimit-limit')).toBe('60');
    expect(res.headers.get('ratelimit-remaining')).toBe('0');
    expect(res.body.error).toBe('rate_limited');
    expect(res.body.retry_after_ms).toBeGreaterThan(0);
    expectMatchesSpec('get', '/me', 429, res.body);

    // Another subject of the same issuer has its own window.
    expect((await get(replicas[1]!, '/me', await mk.gateway({ client_id: `other-${uniq()}` }))).status).toBe(200);
  });
});
