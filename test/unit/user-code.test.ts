import { describe, expect, it } from 'vitest';
import { formatUserCode, normalizeUserCode, userCodeProblem } from '../../src/device-flow/user-code.ts';

describe('user code input', () => {
  it.each([
    ['BCDF-GHJK'],
    ['bcdf-ghjk'],
    ['BCDF GHJK'],
    ['bcdfghjk'],
    [' BCDF\u2013GHJK '], // en dash
    ['BCDF\u2014GHJK'], // em dash
    ['BCDF\u2212GHJK'], // minus sign
    ['BCDF\u2010GHJK'], // hyphen
    ['BCDF\u00adGHJK'], // soft hyphen
    ['ＢＣＤＦ－ＧＨＪＫ'], // full-width letters and hyphen
  ])('when %j is typed, then it reads as BCDFGHJK', (typed) => {
    expect(normalizeUserCode(typed)).toBe('BCDFGHJK');
    expect(userCodeProblem(typed)).toBeNull();
  });

  it('when the code has the wrong length, then the problem says how many letters it has', () => {
    expect(userCodeProblem('BCDF-GHJ')).toEqual({ kind: 'length', length: 7 });
    expect(userCodeProblem('BCDF-GHJKL')).toEqual({ kind: 'length', length: 9 });
    expect(userCodeProblem('')).toEqual({ kind: 'length', length: 0 });
    expect(normalizeUserCode('BCDF-GHJ')).toBeNull();
  });

  it('when the code has vowels, digits or symbols, then the problem is its characters', () => {
    for (const typed of ['AEIO-UBCD', 'BCDF-GHJ1', 'BCDF_GHJK', 'BCDF.GHJK']) {
      expect(userCodeProblem(typed)).toEqual({ kind: 'characters' });
      expect(normalizeUserCode(typed)).toBeNull();
    }
  });

  it('when a code is shown, then it is XXXX-XXXX', () => {
    expect(formatUserCode('BCDFGHJK')).toBe('BCDF-GHJK');
  });
});
