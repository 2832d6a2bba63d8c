import { describe, expect, it } from 'vitest';
import { cookieName, singleCookie } from '../../src/http/cookies.ts';

describe('reading one cookie', () => {
  it('when the cookie is there once, then its (decoded) value, whatever stands around it', () => {
    expect(singleCookie('a=1; tessera_session=x.y.z; b=2', 'tessera_session')).toBe('x.y.z');
    expect(singleCookie('tessera_session=a%20b', 'tessera_session')).toBe('a b');
    expect(singleCookie('  tessera_session=v=w ;b', 'tessera_session')).toBe('v=w');
  });

  it('when it is absent or sent more than once, then undefined', () => {
    expect(singleCookie(undefined, 'n')).toBeUndefined();
    expect(singleCookie('', 'n')).toBeUndefined();
    expect(singleCookie('other=1; n_x=2', 'n')).toBeUndefined();
    expect(singleCookie('n=1; n=1', 'n')).toBeUndefined();
    expect(singleCookie('n=1;n=2', 'n')).toBeUndefined();
    expect(singleCookie('n=; n=2', 'n')).toBeUndefined();
  });

  it('when names differ only by a prefix or by case, then they are different cookies', () => {
    expect(singleCookie('tessera_session=a; __Host-tessera_session=b', '__Host-tessera_session')).toBe('b');
    expect(singleCookie('N=1; n=2', 'n')).toBe('2');
  });
});

describe('cookie names', () => {
  it('when the public URL is https, then the name carries the prefix; on http, the plain name', () => {
    expect(cookieName('tessera_session', true, '__Host-')).toBe('__Host-tessera_session');
    expect(cookieName('tessera_approval_grant', true, '__Secure-')).toBe('__Secure-tessera_approval_grant');
    expect(cookieName('tessera_session', false, '__Host-')).toBe('tessera_session');
  });
});
