import { describe, expect, it } from 'vitest';
import { bearerToken } from '../../src/auth/bearer-authenticator.ts';

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
  ])('when it is %j, then the token is %j', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });

  it('when it is far longer than any token, then it is an invalid token (or no Bearer header), without matching it', () => {
    expect(bearerToken(`Bearer ${'a'.repeat(70_000)}`)).toBe('');
    expect(bearerToken(`Basic ${'a'.repeat(70_000)}`)).toBeNull();
  });

  it('when spaces are piled up to make a backtracking pattern explode, then the answer is the same as for a short header', () => {
    // Linear time is what matters here; the result must also be right (two words are no token).
    expect(bearerToken(`Bearer${' '.repeat(12_000)}a b`)).toBeNull();
    expect(bearerToken(`Bearer${' '.repeat(12_000)}tsa_x`)).toBe('tsa_x');
  });
});
