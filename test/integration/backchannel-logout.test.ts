import { randomBytes } from 'node:crypto';
import { generateKeyPair, importJWK, SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKCHANNEL_LOGOUT_EVENT } from '../../src/sso/logout-token.ts';
import { refreshGrant } from '../helpers/device.ts';
import { until } from '../helpers/processes.ts';
import { auditLog, startServer, type TestServer } from '../helpers/server.ts';
import { backchannelLogoutUri, idpUser, signOutAtIdp, ssoLogin, startSsoPair, type SsoPair } from '../helpers/sso.ts';

// OpenID Connect Back-Channel Logout 1.0 against a real oidc-provider (8.x, its backchannelLogout
// feature), with two Tessera replicas on one Postgres and one Redis: the IdP calls one of them,
// and the other refuses the signed-out person's tokens within a second.
const audit = auditLog();
let pair: SsoPair;
let other: TestServer;
beforeAll(async () => {
  pair = await startSsoPair({ server: { log: audit.log } });
  other = await startServer({ config: { edition: 'enterprise', ssoAllowInsecureHttp: true, sso: pair.server.config.sso } });
});
afterAll(async () => {
  await other.close();
  await pair.close();
});

const meOn = (s: TestServer, t: string) => fetch(`${s.url}/openapi/v1/me`, { headers: { Authorization: `Bearer ${t}` } });
const post = (body: string, type = 'application/x-www-form-urlencoded') =>
  fetch(backchannelLogoutUri(pair.server.url), { method: 'POST', headers: { 'content-type': type }, body });
const send = (token: string) => post(new URLSearchParams({ logout_token: token }).toString());

/** Signs a logout token as the IdP would (its own key), with the claims and header given over a valid base. */
async function logoutToken(claims: JWTPayload & Record<string, unknown>, header: Record<string, unknown> = {}, drop: string[] = []): Promise<string> {
  const key = pair.idp.signingKey!;
  const payload: Record<string, unknown> = {
    iss: pair.idp.issuer,
    aud: 'tessera',
    iat: Math.floor(Date.now() / 1000),
    jti: randomBytes(12).toString('base64url'),
    events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
    ...claims,
  };
  for (const name of drop) delete payload[name];
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'logout+jwt', ...header }).sign(await importJWK(key, 'RS256'));
}

describe('the person signs out at the IdP', () => {
  it("when the IdP calls Tessera, then that person's CLI tokens (tse_ and tsr_) stop on every replica within a second, and another person's keep working", async () => {
    const leaver = idpUser();
    const stayer = idpUser();
    const gone = await ssoLogin(pair, leaver, { device_label: 'laptop' });
    const kept = await ssoLogin(pair, stayer, { device_label: 'laptop' });
    expect(gone.token).toMatch(/^tse_/);
    expect(gone.refresh).toMatch(/^tsr_/);
    // The IdP's session id came along from the ID token, through the approval, to the session.
    const [row] = await pair.server.db.query<{ subject_sid: string | null }>('SELECT subject_sid FROM oauth_access_tokens WHERE subject_sub = $1', [leaver.login]);
    expect(row!.subject_sid).toMatch(/.+/);
    expect((await meOn(other, gone.token)).status).toBe(200);
    const delivered: string[] = [];
    pair.idp.provider!.on('backchannel.success', (_ctx: unknown, client: { clientId: string }) => delivered.push(client.clientId));

    await signOutAtIdp(gone.browser, pair.idp);
    expect(delivered).toContain('tessera');
    await until(async () => (await meOn(other, gone.token)).status === 401, 'the signed-out tse_ refused on the other replica', 1_000, 10);
    expect((await meOn(pair.server, gone.token)).status).toBe(401);
    expect((await refreshGrant(other, gone.refresh!)).status).toBe(400);
    expect((await meOn(other, kept.token)).status).toBe(200);
    expect((await refreshGrant(other, kept.refresh!)).status).toBe(200);
    const event = audit.events.find((e) => e.event === 'sso.backchannel_logout' && e.subject === leaver.login);
    expect(event).toMatchObject({ subject_issuer: pair.idp.issuer, sid: row!.subject_sid, sessions_ended: 1 });
  });

  it('when the person signed in twice (two IdP sessions) and signs out of one, then only the device that sign-in approved is logged out', async () => {
    const user = idpUser();
    const first = await ssoLogin(pair, user, { device_label: 'first' });
    const second = await ssoLogin(pair, user, { device_label: 'second' });
    await signOutAtIdp(first.browser, pair.idp);
    await until(async () => (await meOn(other, first.token)).status === 401, 'the device of the signed-out IdP session refused', 1_000, 10);
    expect((await meOn(other, second.token)).status).toBe(200);
  });

  it('when the logout token names only the subject (no sid), then every session of that subject ends', async () => {
    const user = idpUser();
    const a = await ssoLogin(pair, user, { device_label: 'one' });
    const b = await ssoLogin(pair, user, { device_label: 'two' });
    const res = await send(await logoutToken({ sub: user.login }));
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    for (const t of [a.token, b.token]) await until(async () => (await meOn(other, t)).status === 401, 'every session of the subject refused', 1_000, 10);
  });

  it('when a valid logout token names nobody Tessera knows, then 200 and nothing else', async () => {
    const bystander = await ssoLogin(pair, idpUser());
    expect((await send(await logoutToken({ sub: 'nobody-here', sid: 'no-such-session' }))).status).toBe(200);
    expect((await meOn(other, bystander.token)).status).toBe(200);
  });
});

describe('logout token validation (§2.6): anything wrong is 400 and nothing is revoked', () => {
  let victim: { token: string; sub: string };
  beforeAll(async () => {
    const user = idpUser();
    victim = { token: (await ssoLogin(pair, user)).token, sub: user.login };
  });

  const cases: [string, () => Promise<string>][] = [
    ['signed by another key', async () => {
      const { privateKey } = await generateKeyPair('RS256');
      return new SignJWT({ iss: pair.idp.issuer, aud: 'tessera', iat: Math.floor(Date.now() / 1000), jti: 'x1', sub: victim.sub, events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } })
        .setProtectedHeader({ alg: 'RS256', kid: pair.idp.signingKey!.kid })
        .sign(privateKey);
    }],
    ['from another issuer', () => logoutToken({ sub: victim.sub, iss: 'https://evil.example' })],
    ['for another audience', () => logoutToken({ sub: victim.sub, aud: 'other' })],
    ['without iat', () => logoutToken({ sub: victim.sub }, {}, ['iat'])],
    ['issued long ago', () => logoutToken({ sub: victim.sub, iat: Math.floor(Date.now() / 1000) - 3600 })],
    ['issued in the future', () => logoutToken({ sub: victim.sub, iat: Math.floor(Date.now() / 1000) + 3600 })],
    ['expired', () => logoutToken({ sub: victim.sub, exp: Math.floor(Date.now() / 1000) - 120 })],
    ['without jti', () => logoutToken({ sub: victim.sub }, {}, ['jti'])],
    ['without events', () => logoutToken({ sub: victim.sub }, {}, ['events'])],
    ['with another event', () => logoutToken({ sub: victim.sub, events: { 'http://schemas.openid.net/event/other': {} } })],
    ['with an event that is not an object', () => logoutToken({ sub: victim.sub, events: { [BACKCHANNEL_LOGOUT_EVENT]: 'yes' } })],
    ['without sub or sid', () => logoutToken({})],
    ['with a nonce (an ID token in disguise)', () => logoutToken({ sub: victim.sub, nonce: 'n' })],
    ['typed as an access token', () => logoutToken({ sub: victim.sub }, { typ: 'at+jwt' })],
    ['with alg none', async () => {
      const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'logout+jwt' })).toString('base64url');
      const body = Buffer.from(JSON.stringify({ iss: pair.idp.issuer, aud: 'tessera', iat: Math.floor(Date.now() / 1000), jti: 'n1', sub: victim.sub, events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } })).toString('base64url');
      return `${header}.${body}.`;
    }],
    ['signed with HS256', () => new SignJWT({ iss: pair.idp.issuer, aud: 'tessera', iat: Math.floor(Date.now() / 1000), jti: 'h1', sub: victim.sub, events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('test-client-secret-test-client-secret'))],
    ['not a JWT', async () => 'not-a-token'],
  ];
  for (const [what, make] of cases) {
    it(`when the logout token is ${what}, then 400 invalid_request with the reason`, async () => {
      const res = await send(await make());
      expect(res.status).toBe(400);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const body = await res.json();
      expect(body.error).toBe('invalid_request');
      expect(body.error_description).toMatch(/logout token|jti/i);
      expect((await meOn(other, victim.token)).status).toBe(200);
    });
  }

  it('when a valid logout token is replayed (the same jti), then the second is 400 and ends nothing more', async () => {
    const user = idpUser();
    const first = await ssoLogin(pair, user, { device_label: 'before' });
    const token = await logoutToken({ sub: user.login });
    expect((await send(token)).status).toBe(200);
    await until(async () => (await meOn(other, first.token)).status === 401, 'the first logout applied', 1_000, 10);
    const again = await ssoLogin(pair, user, { device_label: 'after' });
    const replay = await send(token);
    expect(replay.status).toBe(400);
    expect((await replay.json()).error_description).toMatch(/already used/);
    expect((await meOn(other, again.token)).status).toBe(200);
  });

  it('when logout_token is missing, repeated or sent as JSON, then 400 invalid_request', async () => {
    expect((await post('')).status).toBe(400);
    const token = await logoutToken({ sub: victim.sub });
    expect((await post(`logout_token=${token}&logout_token=${token}`)).status).toBe(400);
    expect((await post(JSON.stringify({ logout_token: token }), 'application/json')).status).toBe(400);
    expect((await meOn(other, victim.token)).status).toBe(200);
  });
});

describe('the community edition', () => {
  it('when the back-channel endpoint is called, then 404; a single sign-on session does not refresh there, and is kept for the enterprise edition', async () => {
    const community = await startServer();
    try {
      const res = await fetch(backchannelLogoutUri(community.url), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'logout_token=x' });
      expect(res.status).toBe(404);
      const login = await ssoLogin(pair, idpUser());
      const refused = await refreshGrant(community, login.refresh!);
      expect(refused.status).toBe(400);
      expect((await refused.json()).error_description).toMatch(/enterprise edition/);
      expect((await refreshGrant(other, login.refresh!)).status).toBe(200);
    } finally {
      await community.close();
    }
  });
});
