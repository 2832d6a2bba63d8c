import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/auth/token-kinds.ts';
import { consoleSignin, decide } from '../helpers/console.ts';
import { createAccount, type TestAccount } from '../helpers/fixtures.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
let account: TestAccount;
beforeAll(async () => {
  // A one-second interval keeps the library's own polling loop quick.
  server = await startServer({ config: { devicePollIntervalSeconds: 1 } });
  account = await createAccount(server.db);
});
afterAll(() => server.close());

describe('a third-party client (openid-client) against Tessera', () => {
  it('when it discovers, runs the device grant, calls /me and revokes, then /me answers 401 afterwards', async () => {
    const config = await client.discovery(new URL(server.url), 'tessera-cli', undefined, client.None(), {
      algorithm: 'oauth2',
      execute: [client.allowInsecureRequests],
    });
    const meta = config.serverMetadata();
    expect(meta.issuer).toBe(server.url);
    expect(meta.device_authorization_endpoint).toBe(`${server.url}/openapi/v1/oauth/device/code`);

    const started = await client.initiateDeviceAuthorization(config, { device_label: 'openid-client' });
    expect(started.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    expect(started.verification_uri).toBe(`${server.url}/device`);
    expect(started.interval).toBe(1);

    const login = await consoleSignin(server, account);
    const polling = client.pollDeviceAuthorizationGrant(config, started);
    // Let the library hear authorization_pending at least once before the user approves.
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await decide(server, 'approve', started.user_code, login)).status).toBe(200);
    const tokens = await polling;
    expect(tokens.token_type).toBe('bearer');
    expect(tokens.access_token).toMatch(/^tsa_/);
    // An hour's access token and a refresh token (OAUTH_REFRESH_TOKENS, on by default).
    expect(tokens.expiresIn()).toBeGreaterThan(3590);
    expect(tokens.refresh_token).toMatch(/^tsr_/);
    expect(meta.grant_types_supported).toContain('refresh_token');

    const meUrl = new URL(`${server.url}/openapi/v1/me`);
    const me = await client.fetchProtectedResource(config, tokens.access_token, meUrl, 'GET');
    expect(me.status).toBe(200);
    expect((await me.json()).email).toBe(account.email);

    await client.tokenRevocation(config, tokens.access_token, { token_type_hint: 'access_token' });
    const after = await client.fetchProtectedResource(config, tokens.access_token, meUrl, 'GET').catch((e: unknown) => e);
    const status = after instanceof Response ? after.status : (after as { status?: number }).status;
    expect(status).toBe(401);
  }, 30_000);

  it('when it refreshes (refreshTokenGrant), then it gets a new pair each time, and a spent refresh token is refused with invalid_grant', async () => {
    const config = await client.discovery(new URL(server.url), 'tessera-cli', undefined, client.None(), {
      algorithm: 'oauth2',
      execute: [client.allowInsecureRequests],
    });
    const first = await server.app.services.tokens.mintAccountToken({ accountId: account.id, email: account.email, clientId: 'tessera-cli', deviceLabel: 'openid-client-refresh' });
    const second = await client.refreshTokenGrant(config, first.refresh!.token);
    expect(second.access_token).toMatch(/^tsa_/);
    expect(second.refresh_token).toMatch(/^tsr_/);
    expect(second.token_type).toBe('bearer');
    expect(second.expiresIn()).toBeGreaterThan(3590);
    expect(second.scope).toBe('full');
    const third = await client.refreshTokenGrant(config, second.refresh_token!);
    expect(third.refresh_token).not.toBe(second.refresh_token);
    const me = await client.fetchProtectedResource(config, third.access_token, new URL(`${server.url}/openapi/v1/me`), 'GET');
    expect((await me.json()).email).toBe(account.email);
    const spent = await client.refreshTokenGrant(config, second.refresh_token!).catch((e: unknown) => e);
    expect(spent).toBeInstanceOf(client.ResponseBodyError);
    expect((spent as InstanceType<typeof client.ResponseBodyError>).error).toBe('invalid_grant');
  });

  it('when it logs in with DPoP (getDPoPHandle), then its tokens are bound to its key: /me answers with its proofs (fetchProtectedResource), refreshTokenGrant renews with them, and the tokens are refused without them', async () => {
    const config = await client.discovery(new URL(server.url), 'tessera-cli', undefined, client.None(), {
      algorithm: 'oauth2',
      execute: [client.allowInsecureRequests],
    });
    expect(config.serverMetadata().dpop_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256', 'EdDSA', 'RS256', 'PS256']));
    const keyPair = await client.randomDPoPKeyPair('ES256');
    const DPoP = client.getDPoPHandle(config, keyPair);

    const started = await client.initiateDeviceAuthorization(config, { device_label: 'openid-client-dpop' });
    const login = await consoleSignin(server, account);
    const polling = client.pollDeviceAuthorizationGrant(config, started, undefined, { DPoP });
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await decide(server, 'approve', started.user_code, login)).status).toBe(200);
    const tokens = await polling;
    expect(tokens.token_type).toBe('dpop');
    const jkt = await DPoP.calculateThumbprint();
    const row = await server.db.one<{ dpop_jkt: string | null }>('SELECT dpop_jkt FROM oauth_access_tokens WHERE token_hash = $1', [hashToken(tokens.access_token)]);
    expect(row?.dpop_jkt).toBe(jkt);

    const meUrl = new URL(`${server.url}/openapi/v1/me`);
    const me = await client.fetchProtectedResource(config, tokens.access_token, meUrl, 'GET', undefined, undefined, { DPoP });
    expect(me.status).toBe(200);
    expect((await me.json()).email).toBe(account.email);
    // Without the key: a bound token sent as Bearer is refused, with a DPoP challenge.
    const asBearer = await client.fetchProtectedResource(config, tokens.access_token, meUrl, 'GET').catch((e: unknown) => e);
    expect(asBearer).toBeInstanceOf(client.WWWAuthenticateChallengeError);
    const challenge = (asBearer as InstanceType<typeof client.WWWAuthenticateChallengeError>).cause[0]!;
    expect(challenge).toMatchObject({ scheme: 'dpop', parameters: { error: 'invalid_token', algs: 'ES256 EdDSA Ed25519 RS256 PS256' } });

    const renewed = await client.refreshTokenGrant(config, tokens.refresh_token!, undefined, { DPoP });
    expect(renewed.token_type).toBe('dpop');
    expect(renewed.refresh_token).not.toBe(tokens.refresh_token);
    const again = await client.fetchProtectedResource(config, renewed.access_token, meUrl, 'GET', undefined, undefined, { DPoP });
    expect((await again.json()).email).toBe(account.email);
    // A refresh without the key (the token copied elsewhere) is refused.
    const stolen = await client.refreshTokenGrant(config, renewed.refresh_token!).catch((e: unknown) => e);
    expect(stolen).toBeInstanceOf(client.ResponseBodyError);
    expect((stolen as InstanceType<typeof client.ResponseBodyError>).error).toBe('invalid_grant');
    // With another key too.
    const otherKey = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
    const elsewhere = await client.refreshTokenGrant(config, renewed.refresh_token!, undefined, { DPoP: otherKey }).catch((e: unknown) => e);
    expect((elsewhere as InstanceType<typeof client.ResponseBodyError>).error).toBe('invalid_grant');
  }, 30_000);
});
