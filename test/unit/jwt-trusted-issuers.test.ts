import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTrustedIssuers, TrustedIssuersError } from '../../src/auth/jwt/trusted-issuers.ts';
import { jwtBearersFor } from '../../src/auth/strategies/jwt-bearers.ts';
import { ConfigError, loadConfig, testConfig } from '../../src/config.ts';
import { auditLog } from '../helpers/log.ts';

const RSA_PUBLIC = { kty: 'RSA', kid: 'k1', alg: 'RS256', n: 'sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw', e: 'AQAB' };
const EC_PUBLIC = { kty: 'EC', crv: 'P-256', kid: 'e1', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' };

const federated = {
  issuer: 'https://idp.example.com/realms/acme',
  kind: 'federated',
  jwks_uri: 'https://idp.example.com/realms/acme/protocol/openid-connect/certs',
  audience: 'https://tessera.example.com',
  allowed_scopes: ['apps:run', 'apps:read:permitted'],
};
const gateway = {
  issuer: 'kong-gateway',
  kind: 'gateway',
  jwks: { keys: [EC_PUBLIC] },
  audience: 'tessera',
  algorithms: ['ES256'],
  allowed_scopes: ['apps:read', 'apps:run'],
  max_lifetime_seconds: 300,
};

const load = (entries: unknown, insecure = false) => loadTrustedIssuers(JSON.stringify(entries), { allowInsecureHttp: insecure });
const problem = (entries: unknown, insecure = false): string => {
  try {
    load(entries, insecure);
  } catch (err) {
    expect(err).toBeInstanceOf(TrustedIssuersError);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error('expected the entries to be refused');
};

describe('TRUSTED_JWT_ISSUERS: good entries', () => {
  it('when the variable is unset or empty, then no issuer is trusted', () => {
    expect(loadConfig({}).trustedJwtIssuers).toEqual([]);
    expect(loadConfig({ TRUSTED_JWT_ISSUERS: '' }).trustedJwtIssuers).toEqual([]);
    expect(loadConfig({ TRUSTED_JWT_ISSUERS: '[]' }).trustedJwtIssuers).toEqual([]);
    expect(loadConfig({}).ssoAllowInsecureHttp).toBe(false);
  });

  it('when entries omit the optional fields, then the documented defaults apply and the result is frozen', () => {
    const [f, g] = load([federated, gateway]);
    expect(f).toEqual({
      issuer: federated.issuer,
      kind: 'federated',
      jwksUri: federated.jwks_uri,
      jwks: null,
      audience: federated.audience,
      algorithms: ['RS256'],
      subjectClaim: 'sub',
      emailClaim: 'email',
      scopeClaim: 'scope',
      workspaceClaim: null,
      workspaces: null,
      emailVerifiedClaim: 'email_verified',
      allowedScopes: ['apps:run', 'apps:read:permitted'],
      maxLifetimeSeconds: 3600,
    });
    expect(g).toMatchObject({
      kind: 'gateway',
      jwksUri: null,
      jwks: { keys: [EC_PUBLIC] },
      workspaceClaim: 'tessera_workspace',
      workspaces: null,
      emailVerifiedClaim: null,
      maxLifetimeSeconds: 300,
    });
    expect(Object.isFrozen(f)).toBe(true);
  });

  it('when every field is given, then claim names, algorithms and scopes are taken as written (duplicates folded)', () => {
    const [e] = load([
      {
        ...gateway,
        jwks: { keys: [RSA_PUBLIC, EC_PUBLIC] },
        algorithms: ['RS256', 'ES256', 'ES256'],
        subject_claim: 'client_id',
        email_claim: 'upn',
        scope_claim: 'scp',
        workspace_claim: 'https://tessera.example.com/workspace',
        allowed_scopes: ['apps:run', 'apps:run'],
        max_lifetime_seconds: 86_400,
      },
    ]);
    expect(e).toMatchObject({ algorithms: ['RS256', 'ES256'], subjectClaim: 'client_id', emailClaim: 'upn', scopeClaim: 'scp', workspaceClaim: 'https://tessera.example.com/workspace', allowedScopes: ['apps:run'] });
  });

  it('when a gateway lists workspaces, then they are kept lower-case and without duplicates', () => {
    const ws = '0B6C2A4E-2F0E-4B8E-9C3A-6F1D2E3A4B5C';
    const [g] = load([{ ...gateway, workspaces: [ws, ws.toLowerCase(), '7d1e0c52-95d7-4e8b-a0a3-5d2c7b9e8f10'] }]);
    expect([...g!.workspaces!]).toEqual([ws.toLowerCase(), '7d1e0c52-95d7-4e8b-a0a3-5d2c7b9e8f10']);
  });

  it('when a federated issuer names its email_verified claim, or opts out with null, then that is kept', () => {
    const [custom, none] = load([
      { ...federated, email_verified_claim: 'mail_verified' },
      { ...federated, issuer: 'https://idp.example.com/verified-only', email_verified_claim: null },
    ]);
    expect(custom!.emailVerifiedClaim).toBe('mail_verified');
    expect(none!.emailVerifiedClaim).toBeNull();
  });

  it('when SSO_ALLOW_INSECURE_HTTP=true, then an http jwks_uri is accepted (and only then)', () => {
    const entry = { ...federated, jwks_uri: 'http://127.0.0.1:8081/jwks' };
    const value = JSON.stringify([entry]);
    expect(() => loadConfig({ TRUSTED_JWT_ISSUERS: value })).toThrow(/jwks_uri: must use https/);
    const c = loadConfig({ TRUSTED_JWT_ISSUERS: value, SSO_ALLOW_INSECURE_HTTP: 'true' });
    expect(c.ssoAllowInsecureHttp).toBe(true);
    expect(c.trustedJwtIssuers[0]?.jwksUri).toBe(entry.jwks_uri);
  });
});

describe('TRUSTED_JWT_ISSUERS: a bad entry names the entry and the field', () => {
  it.each<[string, Record<string, unknown>, RegExp]>([
    ['no issuer', { issuer: undefined }, /^entry 1: issuer: is required$/],
    ['an empty issuer', { issuer: '' }, /^entry 1 \(issuer ""\): issuer: must be a non-empty string$/],
    ['an issuer with spaces around it', { issuer: ' https://idp.example.com ' }, /issuer: must not start or end with spaces$/],
    ['an unknown kind', { kind: 'partner' }, /kind: must be "federated" or "gateway"$/],
    ['neither jwks_uri nor jwks', { jwks_uri: undefined }, /jwks_uri: exactly one of jwks_uri and jwks is required$/],
    ['both jwks_uri and jwks', { jwks: { keys: [RSA_PUBLIC] } }, /jwks_uri: exactly one of jwks_uri and jwks is required$/],
    ['an http jwks_uri', { jwks_uri: 'http://idp.example.com/certs' }, /jwks_uri: must use https \(SSO_ALLOW_INSECURE_HTTP=true/],
    ['a relative jwks_uri', { jwks_uri: '/certs' }, /jwks_uri: must be an absolute URL$/],
    ['a jwks_uri of another scheme', { jwks_uri: 'file:///etc/jwks.json' }, /jwks_uri: must use https$/],
    ['a jwks_uri with credentials', { jwks_uri: 'https://user:pw@idp.example.com/certs' }, /jwks_uri: must not contain credentials$/],
    ['no audience', { audience: undefined }, /audience: is required$/],
    ['a numeric audience', { audience: 42 }, /audience: must be a non-empty string$/],
    ['algorithm none', { algorithms: ['none'] }, /algorithms: "none" is never accepted/],
    ['an HS algorithm', { algorithms: ['RS256', 'HS256'] }, /algorithms: "HS256" is never accepted .*none and HS\* are refused\)$/],
    ['a lower-case algorithm', { algorithms: ['rs256'] }, /algorithms: "rs256" is never accepted/],
    ['an empty algorithm list', { algorithms: [] }, /algorithms: must list at least one algorithm$/],
    ['an empty claim name', { subject_claim: ' ' }, /subject_claim: must be a non-empty claim name$/],
    ['a claim name that is not a string', { email_claim: 7 }, /email_claim: must be a claim name$/],
    ['no allowed_scopes', { allowed_scopes: undefined }, /allowed_scopes: is required$/],
    ['an empty allowed_scopes', { allowed_scopes: [] }, /allowed_scopes: must list at least one scope$/],
    ['an unknown scope', { allowed_scopes: ['apps:write'] }, /allowed_scopes: "apps:write" is not a known scope/],
    ['the full scope', { allowed_scopes: ['full'] }, /allowed_scopes: "full" cannot be given to federated tokens/],
    ['an account scope on a federated issuer', { allowed_scopes: ['apps:read'] }, /allowed_scopes: "apps:read" cannot be given to federated tokens \(allowed: apps:run, apps:read:permitted\)$/],
    ['a lifetime under a minute', { max_lifetime_seconds: 59 }, /max_lifetime_seconds: must be at least 60$/],
    ['a lifetime over a day', { max_lifetime_seconds: 86_401 }, /max_lifetime_seconds: must be at most 86400 \(one day\)$/],
    ['a fractional lifetime', { max_lifetime_seconds: 600.5 }, /max_lifetime_seconds: must be a whole number of seconds$/],
    ['a lifetime given as a string', { max_lifetime_seconds: '600' }, /max_lifetime_seconds: must be a whole number of seconds$/],
    ['an unknown field (a typo)', { jwks_url: 'https://idp.example.com/certs' }, /jwks_url: unknown field$/],
    ['a workspaces list (gateways only)', { workspaces: ['7d1e0c52-95d7-4e8b-a0a3-5d2c7b9e8f10'] }, /workspaces: only gateway issuers are confined to workspaces/],
    ['an empty email_verified_claim', { email_verified_claim: '' }, /email_verified_claim: must be a non-empty claim name$/],
    ['an email_verified_claim that is not a string', { email_verified_claim: false }, /email_verified_claim: must be a claim name$/],
  ])('when the second entry has %s, then it is refused', (_name, change, expected) => {
    const entry = Object.fromEntries(Object.entries({ ...federated, ...change }).filter(([, v]) => v !== undefined));
    const message = problem([gateway, entry]);
    expect(message).toMatch(expected);
    if (typeof entry.issuer === 'string' && entry.issuer) expect(message.startsWith(`entry 1 (issuer ${JSON.stringify(entry.issuer)}): `)).toBe(true);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['no workspace claim', { workspace_claim: null }, /workspace_claim: a gateway issuer needs the claim that names the workspace$/],
    ['a scope meant for external subjects', { allowed_scopes: ['apps:read:permitted'] }, /allowed_scopes: "apps:read:permitted" cannot be given to gateway tokens/],
    ['an empty key set', { jwks: { keys: [] } }, /jwks\.keys: must hold at least one key$/],
    ['a key set that is not an object', { jwks: 'https://idp/certs' }, /jwks: must be a JSON Web Key Set/],
    ['a symmetric key', { jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }, /jwks\.keys\.0\.kty: must be RSA, EC or OKP \(symmetric keys are never accepted\)$/],
    ['a private key', { jwks: { keys: [{ ...EC_PUBLIC, d: 'jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI' }] } }, /jwks\.keys\.0: must be a public key \(has the private member "d"\)$/],
    ['an incomplete key', { jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'abc' }] } }, /jwks\.keys\.0: an EC key needs "y"$/],
    ['a key whose alg is not allowed', { jwks: { keys: [RSA_PUBLIC] } }, /jwks: keys\[0\]\.alg "RS256" is not in algorithms$/],
    ['an empty workspaces list', { workspaces: [] }, /workspaces: must list at least one workspace id/],
    ['workspaces that is not a list', { workspaces: '7d1e0c52-95d7-4e8b-a0a3-5d2c7b9e8f10' }, /workspaces: must be an array of workspace ids$/],
    ['a workspace that is not an id', { workspaces: ['7d1e0c52-95d7-4e8b-a0a3-5d2c7b9e8f10', 'acme'] }, /workspaces\.1: must be a workspace id \(UUID\)$/],
    ['an email_verified_claim (federated only)', { email_verified_claim: 'email_verified' }, /email_verified_claim: only federated issuers are checked for a verified email/],
  ])('when a gateway entry has %s, then it is refused', (_name, change, expected) => {
    expect(problem([{ ...gateway, ...change }])).toMatch(expected);
  });

  it('when two entries share an issuer, then the second is refused as a duplicate', () => {
    expect(problem([federated, gateway, { ...gateway, issuer: federated.issuer, allowed_scopes: ['apps:run'] }])).toBe(
      `entry 2 (issuer ${JSON.stringify(federated.issuer)}): issuer: duplicate of entry 0`,
    );
  });

  it('when issuers differ only by a trailing slash, then both are kept as distinct exact strings', () => {
    expect(load([federated, { ...federated, issuer: `${federated.issuer}/` }])).toHaveLength(2);
  });

  it.each([
    ['an object', '{"issuer": "x"}', /^invalid configuration: TRUSTED_JWT_ISSUERS: expected an array of issuer entries$/],
    ['a list of strings', '["https://idp.example.com"]', /^invalid configuration: TRUSTED_JWT_ISSUERS: entry 0: must be an object$/],
    ['not JSON', "[{issuer: 'x'}]", /^invalid configuration: TRUSTED_JWT_ISSUERS: not valid JSON \(or "@path" to a file\): /],
    ['null', 'null', /^invalid configuration: TRUSTED_JWT_ISSUERS: expected an array of issuer entries$/],
  ])('when the value is %s, then the process stops with one line naming TRUSTED_JWT_ISSUERS', (_name, value, expected) => {
    expect(() => loadConfig({ TRUSTED_JWT_ISSUERS: value })).toThrow(ConfigError);
    expect(() => loadConfig({ TRUSTED_JWT_ISSUERS: value })).toThrow(expected);
  });
});

describe('TRUSTED_JWT_ISSUERS: the start-up warning about gateways without workspaces', () => {
  /** The log lines of building the JWT source for these entries in an edition. */
  function startLines(entries: unknown, edition: 'community' | 'enterprise' = 'enterprise') {
    const { log, records } = auditLog();
    jwtBearersFor(testConfig({ edition, trustedJwtIssuers: load(entries) }), log);
    return records;
  }

  it('when a gateway entry has no workspaces list, then one warning names the issuer and says what to set', () => {
    const lines = startLines([federated, gateway, { ...gateway, issuer: 'listed-gateway', workspaces: ['7d1e0c52-95d7-4e8b-a0a3-5d2c7b9e8f10'] }]);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 40,
        jwt_issuer: 'kong-gateway',
        msg: 'TRUSTED_JWT_ISSUERS: gateway issuer "kong-gateway" has no workspaces list: this gateway may name any workspace; set workspaces',
      }),
    ]);
  });

  it('when the edition is community, then no JWT source is built and nothing is said about gateways', () => {
    expect(startLines([gateway], 'community')).toEqual([]);
  });
});

describe('TRUSTED_JWT_ISSUERS: @file forms', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-issuers-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  it('when @path names a JSON file, then its entries are loaded', () => {
    const path = file('issuers.json', JSON.stringify([federated, gateway], null, 2));
    expect(loadConfig({ TRUSTED_JWT_ISSUERS: `@${path}` }).trustedJwtIssuers.map((e) => e.issuer)).toEqual([federated.issuer, 'kong-gateway']);
  });

  it('when @path names a YAML file, then its entries are loaded', () => {
    const path = file(
      'issuers.yaml',
      [
        '# the company IdP and the API gateway',
        `- issuer: ${federated.issuer}`,
        '  kind: federated',
        `  jwks_uri: ${federated.jwks_uri}`,
        `  audience: ${federated.audience}`,
        '  email_claim: upn',
        '  allowed_scopes: [apps:run]',
        '- issuer: kong-gateway',
        '  kind: gateway',
        '  audience: tessera',
        '  algorithms: [ES256]',
        '  allowed_scopes: [apps:run]',
        '  jwks:',
        '    keys:',
        `      - {kty: EC, crv: P-256, kid: e1, x: ${EC_PUBLIC.x}, y: ${EC_PUBLIC.y}}`,
      ].join('\n'),
    );
    const [f, g] = loadConfig({ TRUSTED_JWT_ISSUERS: `@${path}` }).trustedJwtIssuers;
    expect(f).toMatchObject({ issuer: federated.issuer, emailClaim: 'upn', allowedScopes: ['apps:run'] });
    expect(g).toMatchObject({ issuer: 'kong-gateway', jwks: { keys: [EC_PUBLIC] } });
  });

  it('when the YAML file is empty, then no issuer is trusted', () => {
    expect(loadConfig({ TRUSTED_JWT_ISSUERS: `@${file('empty.yml', '# nothing yet\n')}` }).trustedJwtIssuers).toEqual([]);
  });

  it('when a file entry is bad, then the line names the entry and the field as for inline JSON', () => {
    const path = file('bad.yaml', `- issuer: kong-gateway\n  kind: gateway\n  audience: tessera\n  jwks_uri: http://kong.internal/jwks\n  allowed_scopes: [apps:run]\n`);
    expect(() => loadConfig({ TRUSTED_JWT_ISSUERS: `@${path}` })).toThrow(
      /^invalid configuration: TRUSTED_JWT_ISSUERS: entry 0 \(issuer "kong-gateway"\): jwks_uri: must use https/,
    );
  });

  it.each([
    ['is missing', () => `@${join(dir, 'missing.yaml')}`, /TRUSTED_JWT_ISSUERS: cannot read .*missing\.yaml: ENOENT$/],
    ['is a directory', () => `@${dir}`, /TRUSTED_JWT_ISSUERS: cannot read .*: EISDIR$/],
    ['is not valid YAML', () => `@${file('broken.yaml', '- issuer: [unclosed\n  kind: gateway\n')}`, /TRUSTED_JWT_ISSUERS: .*broken\.yaml is not valid YAML: /],
    ['is not valid JSON', () => `@${file('broken.json', '[{"issuer": ')}`, /TRUSTED_JWT_ISSUERS: .*broken\.json is not valid JSON: /],
    ['has no path', () => '@ ', /TRUSTED_JWT_ISSUERS: "@" must be followed by a file path$/],
  ])('when the file %s, then the process stops with one line', (_name, value, expected) => {
    let message = '';
    try {
      loadConfig({ TRUSTED_JWT_ISSUERS: value() });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    expect(message).toMatch(expected);
    expect(message).not.toContain('\n');
  });
});
