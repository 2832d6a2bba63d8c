import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

const error = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('no ConfigError');
};

describe('single sign-on settings', () => {
  it('when SSO_OIDC_ISSUER is unset, then the SSO branch is off and insecure HTTP is not allowed', () => {
    const c = loadConfig({});
    expect(c.sso).toBeNull();
    expect(c.ssoAllowInsecureHttp).toBe(false);
  });

  it('when the issuer and client are set, then the documented defaults fill the rest', () => {
    const c = loadConfig({ EDITION: 'enterprise', SSO_OIDC_ISSUER: 'https://login.corp.example', SSO_OIDC_CLIENT_ID: 'tessera' });
    expect(c.sso).toMatchObject({
      issuer: 'https://login.corp.example',
      clientId: 'tessera',
      clientSecret: null,
      scopes: ['openid', 'email', 'profile'],
      displayName: 'Single sign-on',
    });
    expect(Object.isFrozen(c.sso)).toBe(true);
  });

  it('when scopes, a secret, a display name and insecure HTTP are set, then they are used', () => {
    const c = loadConfig({
      SSO_OIDC_ISSUER: 'http://127.0.0.1:9090',
      SSO_OIDC_CLIENT_ID: 'tessera',
      SSO_OIDC_CLIENT_SECRET: 's3cret',
      SSO_OIDC_SCOPES: ' openid   email ',
      SSO_DISPLAY_NAME: 'Acme Login',
      SSO_ALLOW_INSECURE_HTTP: 'true',
    });
    expect(c.sso).toMatchObject({ clientSecret: 's3cret', scopes: ['openid', 'email'], displayName: 'Acme Login' });
    expect(c.ssoAllowInsecureHttp).toBe(true);
  });

  it.each([
    [{ SSO_OIDC_ISSUER: 'http://idp.corp.example', SSO_OIDC_CLIENT_ID: 'x' }, 'SSO_OIDC_ISSUER: must be an https:// URL'],
    [{ SSO_OIDC_ISSUER: 'not a url', SSO_OIDC_CLIENT_ID: 'x' }, 'SSO_OIDC_ISSUER: expected a URL'],
    [{ SSO_OIDC_ISSUER: 'https://idp.example/?tenant=1', SSO_OIDC_CLIENT_ID: 'x' }, 'SSO_OIDC_ISSUER: must not have a query or fragment'],
    [{ SSO_OIDC_ISSUER: 'https://idp.example' }, 'SSO_OIDC_CLIENT_ID: required when SSO_OIDC_ISSUER is set'],
    [{ SSO_OIDC_CLIENT_ID: 'x' }, 'SSO_OIDC_ISSUER: required when SSO_OIDC_CLIENT_ID is set'],
    [{ SSO_OIDC_ISSUER: 'https://idp.example', SSO_OIDC_CLIENT_ID: 'x', SSO_OIDC_SCOPES: 'email profile' }, 'SSO_OIDC_SCOPES: must include openid'],
    [{ SSO_ALLOW_INSECURE_HTTP: 'maybe' }, 'SSO_ALLOW_INSECURE_HTTP: expected true or false'],
    [{ SSO_DISPLAY_NAME: 'x'.repeat(61) }, 'SSO_DISPLAY_NAME'],
  ])('when %j, then one line names the variable', (env, message) => {
    expect(error(env)).toContain(`invalid configuration: ${message}`);
  });
});

describe('single sign-on next to trusted JWT issuers', () => {
  const IDP = 'https://login.corp.example';
  const sso = { EDITION: 'enterprise', SSO_OIDC_ISSUER: IDP, SSO_OIDC_CLIENT_ID: 'tessera-web' };
  const jwks = { keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' }] };
  const federated = (audience: string) => ({ issuer: IDP, kind: 'federated', jwks, audience, algorithms: ['ES256'], allowed_scopes: ['apps:run'] });
  const gateway = (issuer: string) => ({ issuer, kind: 'gateway', jwks, audience: 'https://tessera.corp.example', algorithms: ['ES256'], allowed_scopes: ['apps:run'] });
  const withIssuers = (entries: object[]) => ({ ...sso, TRUSTED_JWT_ISSUERS: JSON.stringify(entries) });

  it("when a federated issuer's audience is SSO_OIDC_CLIENT_ID, then the start is refused in one line (ID tokens would pass as bearers)", () => {
    const message = error(withIssuers([federated('tessera-web')]));
    expect(message).toBe(
      'invalid configuration: TRUSTED_JWT_ISSUERS: federated issuer "https://login.corp.example" has audience "tessera-web", which is SSO_OIDC_CLIENT_ID: ' +
        "the IdP's ID tokens would be accepted as bearer tokens (use the audience of the access tokens meant for Tessera)",
    );
  });

  it('when SSO_OIDC_ISSUER is also listed as a gateway, then the start is refused in one line', () => {
    const message = error(withIssuers([gateway(IDP)]));
    expect(message).toBe('invalid configuration: TRUSTED_JWT_ISSUERS: SSO_OIDC_ISSUER "https://login.corp.example" is listed as a gateway: the single sign-on IdP can only be a federated issuer');
  });

  it('when the IdP is federated with its access-token audience and gateways are other issuers, then the configuration is accepted', () => {
    const c = loadConfig(withIssuers([federated('https://tessera.corp.example'), gateway('https://gateway.corp.example')]));
    expect(c.sso?.clientId).toBe('tessera-web');
    expect(c.trustedJwtIssuers.map((t) => t.kind)).toEqual(['federated', 'gateway']);
  });
});
