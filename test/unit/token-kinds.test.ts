import { describe, expect, it } from 'vitest';
import { checksum, generateToken, hashToken, isRefreshToken, kindsFor, parseAnyToken, parseToken } from '../../src/auth/token-kinds.ts';
import { hasScope } from '../../src/auth/scopes.ts';
import { buildPipeline, type Step } from '../../src/auth/pipeline.ts';

describe('token kinds', () => {
  it.each(['tsa_', 'tse_', 'tsk_'] as const)('when a %s token is generated, then it is 53 chars and parses to its kind', (prefix) => {
    const t = generateToken(prefix);
    expect(t).toHaveLength(53);
    expect(t.startsWith(prefix)).toBe(true);
    expect(parseToken(t)?.prefix).toBe(prefix);
  });

  it('when one character changes, then the checksum rejects it', () => {
    const t = generateToken('tsa_');
    const flipped = t.slice(0, 10) + (t[10] === 'A' ? 'B' : 'A') + t.slice(11);
    expect(parseToken(flipped)).toBeNull();
  });

  it('when the prefix is unknown or the length is wrong, then it is rejected', () => {
    const t = generateToken('tsa_');
    expect(parseToken('tsx_' + t.slice(4, 47) + checksum('tsx_' + t.slice(4, 47)))).toBeNull();
    expect(parseToken(t + 'a')).toBeNull();
    expect(parseToken('app-abc')).toBeNull();
  });

  it('when the kinds are asked per edition, then tse_ (external subjects) is the enterprise edition\'s alone', () => {
    expect(kindsFor('community').map((k) => k.prefix)).toEqual(['tsa_', 'tsk_']);
    expect(kindsFor('enterprise').map((k) => k.prefix)).toEqual(['tsa_', 'tse_', 'tsk_']);
    expect(kindsFor('community').some((k) => k.subject === 'external')).toBe(false);
  });

  it('when a tsr_ refresh token is generated, then it has the same format and checksum, is a refresh token and no bearer kind of any edition', () => {
    const t = generateToken('tsr_');
    expect(t).toHaveLength(53);
    expect(parseAnyToken(t)).toMatchObject({ prefix: 'tsr_', kind: 'refresh' });
    expect(isRefreshToken(t)).toBe(true);
    expect(parseToken(t)).toBeNull();
    expect(kindsFor('enterprise').some((k) => k.prefix === 'tsr_')).toBe(false);
    expect(isRefreshToken(t.slice(0, 10) + (t[10] === 'A' ? 'B' : 'A') + t.slice(11))).toBe(false);
    expect(isRefreshToken(generateToken('tsa_'))).toBe(false);
  });

  it('then tokens are random and hashed with sha256 hex', () => {
    expect(generateToken('tsa_')).not.toBe(generateToken('tsa_'));
    expect(hashToken('x')).toBe('2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881');
  });
});

describe('scopes', () => {
  it('when a token has full, then every scope check passes', () => {
    expect(hasScope(['full'], 'apps:run')).toBe(true);
    expect(hasScope(['full'], 'apps:read:permitted')).toBe(true);
  });
  it('otherwise the exact scope is needed', () => {
    expect(hasScope(['apps:read'], 'apps:run')).toBe(false);
    expect(hasScope(['apps:read', 'apps:run'], 'apps:run')).toBe(true);
  });
});

describe('pipeline order', () => {
  const step = (name: string, needs: Step['needs'], provides: Step['provides']): Step => ({ name, needs, provides, run: async () => {} });

  it('when a scope check has no authentication above it, then building the pipeline throws (at start)', () => {
    expect(() => buildPipeline([step('ScopeCheck', ['auth'], []), step('BearerCheck', [], ['auth'])])).toThrow(/ScopeCheck needs auth/);
  });
  it('when an app check comes before the app resolver, then it throws', () => {
    expect(() => buildPipeline([step('BearerCheck', [], ['auth']), step('AppAuthzCheck', ['auth', 'app'], [])])).toThrow(/needs app/);
  });
  it('when steps are in order, then it builds', () => {
    expect(buildPipeline([step('BearerCheck', [], ['auth']), step('ScopeCheck', ['auth'], [])])).toHaveLength(2);
  });
});
