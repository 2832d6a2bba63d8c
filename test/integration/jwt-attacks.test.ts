import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createWorkspace, member } from '../helpers/fixtures.ts';
import { jwtAttacks } from '../helpers/jwt-attacks.ts';
import { jwtServerConfig, minters, nowSec, startJwtIssuers, type JwtIssuers } from '../helpers/jwt-server.ts';
import { auditLog, startServer, type TestServer } from '../helpers/server.ts';
import { expectMatchesSpec, expectRefusedUncounted } from '../helpers/spec.ts';

// The attack list through the HTTP API: every one is 401 invalid_token with the
// RFC 6750 challenge, spends no rate-limit budget, and leaves its reason in the log —
// never the token.
let issuers: JwtIssuers;
let server: TestServer;
let log: ReturnType<typeof auditLog>;
let limited: TestServer;
let limitedLog: ReturnType<typeof auditLog>;
let workspace: string;

const LIMIT = 5;

beforeAll(async () => {
  issuers = await startJwtIssuers();
  log = auditLog();
  server = await startServer({ log: log.log, config: jwtServerConfig(issuers.trusted()) });
  limitedLog = auditLog();
  limited = await startServer({ log: limitedLog.log, config: jwtServerConfig(issuers.trusted(), { invalidPerAddress: LIMIT }) });
  workspace = await createWorkspace(server.db);
});
afterAll(async () => {
  await Promise.all([server.close(), limited.close()]);
  await issuers.close();
});

const me = (s: TestServer, token: string, address?: string) =>
  fetch(`${s.url}/openapi/v1/me`, { headers: { Authorization: `Bearer ${token}`, ...(address ? { 'X-Forwarded-For': address } : {}) } });

describe('JWT attacks through the HTTP API', () => {
  const attacks = jwtAttacks(() => issuers.kit, nowSec, () => workspace).filter((a) => a.overHttp);

  it.each(attacks.map((a) => [a.name, a] as const))('when a bearer has %s, then 401 invalid_token, its reason logged without the token', async (_name, attack) => {
    const token = await attack.build();
    const before = log.lines.length;
    await expectRefusedUncounted(await me(server, token));

    const logged = log.lines.slice(before).join('\n');
    expect(logged).toContain('"msg":"jwt rejected"');
    expect(logged).toContain(`"reason":"${attack.reason}"`);
    expect(logged).not.toContain(token);
    for (const segment of token.split('.')) if (segment.length >= 8) expect(logged).not.toContain(segment);
  });

  it('when a kid is unknown, then the issuer\'s JWKS is fetched again before the token is refused (rotation is never mistaken for an attack)', async () => {
    const unknownKid = attacks.find((a) => a.name === 'an unknown kid')!;
    const before = issuers.idpJwks.requests;
    expect((await me(server, await unknownKid.build())).status).toBe(401);
    expect(issuers.idpJwks.requests).toBe(before + 1);
  });

  it('when an attack targets an app route, then it is the same 401 before anything about the app is revealed', async () => {
    const m = await member(server);
    const forged = await attacks.find((a) => a.reason === 'bad_signature')!.build();
    const res = await fetch(`${server.url}/openapi/v1/apps/${m.appId}/info`, { headers: { Authorization: `Bearer ${forged}` } });
    expect(res.status).toBe(401);
    expectMatchesSpec('get', '/apps/{app_id}/info', 401, await res.json());
  });
});

describe('the bound on invalid JWTs per client address', () => {
  it('when one address has sent too many invalid JWTs, then its uncached JWTs get 429 without verification; others, cached tokens and opaque tokens are unaffected', async () => {
    const mk = minters(issuers.kit, () => workspace);
    const address = '198.51.100.7';
    const warm = await mk.federated({ sub: 'warm-before' });
    expect((await me(limited, warm, address)).status).toBe(200);

    const forged = await mk.federated({ sub: 'victim' }, issuers.kit.attacker);
    for (let i = 0; i < LIMIT; i++) expect((await me(limited, forged, address)).status).toBe(401);
    const warnings = () => limitedLog.lines.filter((l) => l.includes('too many invalid tokens from one address'));
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]).toContain(`"client_address":"${address}"`);

    const verify = vi.spyOn(limited.app.services.jwtBearers!.verifier, 'verify');
    try {
      const fresh = await mk.federated({ sub: 'cold-after' });
      const refused = await me(limited, fresh, address);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      const body = await refused.json();
      expect(body).toMatchObject({ error: 'rate_limited' });
      expect(body.retry_after_ms).toBeGreaterThan(0);
      expectMatchesSpec('get', '/me', 429, body);
      expect(verify).not.toHaveBeenCalled();

      expect((await me(limited, warm, address)).status).toBe(200);
      const m = await member(limited);
      expect((await me(limited, m.token, address)).status).toBe(200);
      expect(verify).not.toHaveBeenCalled();
      expect((await me(limited, fresh, '198.51.100.8')).status).toBe(200);
      expect(verify).toHaveBeenCalledTimes(1);
      expect(warnings()).toHaveLength(1);
    } finally {
      verify.mockRestore();
    }
  });
});
