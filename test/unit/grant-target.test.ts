import { describe, expect, it } from 'vitest';
import { grantTarget } from '../../src/admin/grants-admin.ts';
import { emailDomain } from '../../src/storage/repos/grants.ts';
import { gatewayConfinement } from '../../src/auth/tenancy/gateway-confinement.ts';
import { scopeFor, READ_APP, accountsOnly } from '../../src/auth/scopes.ts';
import type { AuthContext } from '../../src/auth/auth-context.ts';
import type { AppRecord } from '../../src/storage/repos/apps.ts';

const ISSUER = 'https://idp.example';

describe('grant targets (admin grant-app / revoke-app-grant)', () => {
  it('when an email or a domain is given, then it is normalised to lower case', () => {
    expect(grantTarget({ issuer: ISSUER, email: ' Ada@Corp.Example ' })).toEqual({ issuer: ISSUER, email: 'ada@corp.example' });
    expect(grantTarget({ issuer: ISSUER, domain: 'Corp.Example' })).toEqual({ issuer: ISSUER, domain: 'corp.example' });
  });

  it.each([
    [{ issuer: ISSUER }, 'give exactly one of --email and --domain'],
    [{ issuer: ISSUER, email: 'a@b.example', domain: 'b.example' }, 'give exactly one of --email and --domain'],
    [{ issuer: 'not a url', email: 'a@b.example' }, '--issuer must be the IdP issuer URL'],
    [{ issuer: 'ftp://idp.example', email: 'a@b.example' }, '--issuer must be an http(s) URL'],
    [{ issuer: ISSUER, email: 'nobody' }, 'is not an email address'],
    [{ issuer: ISSUER, domain: '*.example' }, 'is not a domain name'],
    [{ issuer: ISSUER, domain: 'a@b.example' }, 'is not a domain name'],
  ])('when the target is %j, then it is refused: %s', (input, message) => {
    expect(() => grantTarget(input)).toThrow(message);
  });

  it('then a domain grant matches on the part after the last @, case-insensitively', () => {
    expect(emailDomain('Ada@Corp.Example')).toBe('corp.example');
    expect(emailDomain('"a@b"@c.example')).toBe('c.example');
    expect(emailDomain('no-at')).toBe('');
  });
});

describe('tenancy and scope rules per subject kind', () => {
  const app = { workspace_id: 'ws-1' } as AppRecord;
  const gateway = (workspaceConfinement: string | null) => ({ subjectKind: 'gateway', workspaceConfinement }) as AuthContext;

  it('when a gateway caller is confined to the app workspace, then it is admitted; to another or none, then not', () => {
    const check = gatewayConfinement();
    expect(check.admits(gateway('ws-1'), app)).toBe(true);
    expect(check.admits(gateway('ws-2'), app)).toBe(false);
    expect(check.admits(gateway(null), app)).toBe(false);
  });

  it('when a route lists scopes per subject kind, then an unlisted kind gets undefined (wrong_subject) and a listed one its scope', () => {
    expect(scopeFor(accountsOnly('apps:read'), 'external')).toBeUndefined();
    expect(scopeFor(accountsOnly('apps:read'), 'account')).toBe('apps:read');
    expect(scopeFor(READ_APP, 'external')).toBe('apps:read:permitted');
    expect(scopeFor({ external: null }, 'external')).toBeNull();
    expect(scopeFor('apps:run', 'gateway')).toBe('apps:run');
    expect(scopeFor(null, 'external')).toBeNull();
  });
});
