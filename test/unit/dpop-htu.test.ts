import { describe, expect, it } from 'vitest';
import { expectedHtu, normalise, sameHtu } from '../../src/auth/dpop/htu.ts';

// RFC 9449 §4.3 step 9 with RFC 3986 §6.2.2–6.2.3 normalisation: what a proof's htu may say for a request.
describe('htu', () => {
  it('when the request target has a query or a fragment, then the URL a proof must name is PUBLIC_URL and the path alone', () => {
    expect(expectedHtu('https://tessera.example', '/openapi/v1/apps?workspace_id=x')).toBe('https://tessera.example/openapi/v1/apps');
    expect(expectedHtu('https://tessera.example/base', '/openapi/v1/me#f')).toBe('https://tessera.example/base/openapi/v1/me');
  });

  it.each([
    ['HTTPS://Tessera.Example/openapi/v1/me', 'scheme and host in any case'],
    ['https://tessera.example:443/openapi/v1/me', 'the default port'],
    ['https://tessera.example/openapi/v1/./x/../me', 'dot segments'],
    ['https://tessera.example/openapi/v1/%6de', 'an escaped unreserved character'],
    ['https://tessera.example/openapi/v1/me?q=1#frag', 'a query and a fragment'],
  ])('when htu is %s (%s), then it names https://tessera.example/openapi/v1/me', (htu) => {
    expect(sameHtu(htu, 'https://tessera.example/openapi/v1/me')).toBe(true);
  });

  it('when two URLs differ only in the case of a percent-escape of a reserved character, then they are the same; a different escape is not', () => {
    expect(sameHtu('https://t.example/a%2fb', 'https://t.example/a%2Fb')).toBe(true);
    expect(sameHtu('https://t.example/a%2Fb', 'https://t.example/a/b')).toBe(false);
  });

  it.each([
    ['http://tessera.example/openapi/v1/me', 'another scheme'],
    ['https://tessera.example:8443/openapi/v1/me', 'another port'],
    ['https://other.example/openapi/v1/me', 'another host'],
    ['https://tessera.example/openapi/v1/me/', 'a trailing slash'],
    ['https://tessera.example/openapi/v1/ME', 'another case in the path'],
    ['https://user@tessera.example/openapi/v1/me', 'user information'],
    ['ftp://tessera.example/openapi/v1/me', 'a scheme that is not http(s)'],
    ['not a url', 'no URL at all'],
  ])('when htu is %s (%s), then it does not name it', (htu) => {
    expect(sameHtu(htu, 'https://tessera.example/openapi/v1/me')).toBe(false);
  });

  it('when a URL cannot be a request target, then it normalises to nothing', () => {
    expect(normalise('https://a:b@t.example/')).toBeNull();
    expect(normalise('javascript:alert(1)')).toBeNull();
  });
});
