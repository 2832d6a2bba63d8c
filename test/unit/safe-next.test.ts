import { describe, expect, it } from 'vitest';
import { safeNext } from '../../src/console/pages.ts';
import { HOSTILE_NEXT } from '../helpers/hostile.ts';

const ORIGIN = 'http://tessera.test';

/** How a browser would read a Location or a navigation target: it must stay on this origin. */
function staysHome(next: string): boolean {
  return next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') && new URL(next, ORIGIN).origin === ORIGIN;
}

describe('the sign-in return address', () => {
  it.each(HOSTILE_NEXT)('when next is %j, then the normalised return address stays on this origin', (value) => {
    const next = safeNext(value);
    expect(staysHome(next)).toBe(true);
    // What is returned is already normal: normalising it again changes nothing.
    expect(safeNext(next)).toBe(next);
  });

  it('when next is a path of this origin, then it is kept with its query', () => {
    expect(safeNext('/device?user_code=ABCD-EFGH')).toBe('/device?user_code=ABCD-EFGH');
    expect(safeNext('/device')).toBe('/device');
    expect(safeNext('/a/../device')).toBe('/device');
  });

  it('when next is not a string, then /device', () => {
    expect(safeNext(['/a', '/b'])).toBe('/device');
    expect(safeNext(undefined)).toBe('/device');
  });
});
