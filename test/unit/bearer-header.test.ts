import { describe, expect, it } from 'vitest';
import { credentialsOf } from '../../src/auth/bearer-authenticator.ts';

const token = (header: string | undefined) => credentialsOf(header)?.token ?? null;

// The header parser runs on every bearer request before any limit: what it accepts, and that
// hostile headers cannot make it slow (a quadratic pattern took ~90 ms for one 16 KB header).
describe('the Authorization header', () => {
  it.each([
    [undefined, null],
    ['', null],
    ['Basic abc', null],
    ['Bearer', ''],
    ['Bearer   ', ''],
    ['bearer tsa_x', 'tsa_x'],
    ['Bearer tsa_x', 'tsa_x'],
    ['Bearer   tsa_x  ', 'tsa_x'],
    ['Bearer tsa_x\t', 'tsa_x'],
    ['Bearer tsa_x y', null],
    ['Bearer\ttsa_x', null],
    ['Bearertsa_x', null],
    ['DPoP tsa_x', 'tsa_x'],
    ['dpop tsa_x', 'tsa_x'],
    ['DPoPtsa_x', null],
  ])('when it is %j, then the token is %j', (header, expected) => {
    expect(token(header)).toBe(expected);
  });

  it('when the scheme is DPoP in any case, then it is read as DPoP, and Bearer as Bearer', () => {
    expect(credentialsOf('DPOP tsa_x')).toEqual({ scheme: 'DPoP', token: 'tsa_x' });
    expect(credentialsOf('BEARER tsa_x')).toEqual({ scheme: 'Bearer', token: 'tsa_x' });
  });

  it('when it is far longer than any token, then it is an invalid token (or no Bearer header), without matching it', () => {
    expect(token(`Bearer ${'a'.repeat(70_000)}`)).toBe('');
    expect(credentialsOf(`DPoP ${'a'.repeat(70_000)}`)).toEqual({ scheme: 'DPoP', token: '' });
    expect(token(`Basic ${'a'.repeat(70_000)}`)).toBeNull();
  });

  it('when spaces are piled up to make a backtracking pattern explode, then the answer is the same as for a short header', () => {
    // Linear time is what matters here; the result must also be right (two words are no token).
    expect(token(`Bearer${' '.repeat(12_000)}a b`)).toBeNull();
    expect(token(`Bearer${' '.repeat(12_000)}tsa_x`)).toBe('tsa_x');
    expect(token(`DPoP${' '.repeat(12_000)}tsa_x`)).toBe('tsa_x');
  });
});
