import { gzipSync, deflateSync, brotliCompressSync } from 'node:zlib';
import { generateToken } from '../../src/auth/token-kinds.ts';

/** Path segments that are not valid percent-encoded UTF-8: every surface must answer 400. */
export const MALFORMED_SEGMENTS = ['%ff', '%', '%zz', '%E0%A4%A', '%C0%AE%C0%AE', '%ed%a0%80', '%f8%88%80%80%80', 'a%2', '%%41'];

/** Well-encoded but odd segments: any answer but a 5xx. */
export const ODD_SEGMENTS = [
  '%00',
  '%2e%2e',
  '..%2F..%2Fetc%2Fpasswd',
  '%5Cevil.example',
  '%2F%2Fevil.example',
  'x'.repeat(4000),
  '%f0%9f%98%80',
  '%ef%bb%bf',
  "'%22%3Cscript%3E",
  '%20%09',
  '-1',
  '00000000-0000-0000-0000-000000000000',
];

/** Authorization headers of many shapes; `valid` is a live token of the caller. */
export function authorizationShapes(valid: string): (string | string[])[] {
  const latin1 = (s: string) => Buffer.from(s, 'utf8').toString('latin1');
  return [
    '',
    'Bearer',
    'Bearer ',
    'Bearer  x',
    `bearer ${valid}`,
    `Bearer ${valid} `,
    `Bearer  ${valid}`,
    `Bearer\t${valid}`,
    valid,
    `Token ${valid}`,
    'Basic dGVzc2VyYS1jbGk6',
    'Basic',
    'Basic %%%',
    'Digest username="x", realm="y"',
    `Bearer ${'x'.repeat(8000)}`,
    latin1('Bearer tökén-ünïcødé-🔑'),
    'Bearer a.b.c',
    'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
    'Bearer eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln',
    'Bearer ...',
    `Bearer ${generateToken('tsa_')}`,
    `Bearer ${generateToken('tsk_')}`,
    `Bearer ${generateToken('tse_')}`,
    `Bearer ${valid.slice(0, -1)}${valid.endsWith('A') ? 'B' : 'A'}`,
    `Bearer app-${'a'.repeat(24)}`,
    `Bearer ${valid}, Bearer ${valid}`,
    [`Bearer ${valid}`, 'Bearer other'],
  ];
}

/**
 * JWT-shaped Authorization headers around `jwt`, a valid compact JWS of a trusted issuer
 * (enterprise edition): the valid one, and garbage that only looks like it — forged,
 * relabelled, truncated, oversized, mis-encoded. Any answer but a 5xx.
 */
export function jwtAuthorizationShapes(jwt: string): string[] {
  const [h = '', p = '', sig = ''] = jwt.split('.');
  const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
  const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>;
  const relabel = (over: Record<string, unknown>) => `Bearer ${h}.${b64({ ...claims, ...over })}.${sig}`;
  const latin1 = (s: string) => Buffer.from(s, 'utf8').toString('latin1');
  return [
    `Bearer ${jwt}`,
    `bearer ${jwt}`,
    `Bearer ${h}.${p}.${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BB' : 'AA'}`,
    `Bearer ${h}.${p}.`,
    `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${p}.`,
    `Bearer ${b64({ ...header, alg: 'HS256' })}.${p}.${sig}`,
    `Bearer ${b64({ ...header, kid: 'never-published' })}.${p}.${sig}`,
    `Bearer ${b64({ ...header, jku: 'http://127.0.0.1:1/jwks.json', jwk: { kty: 'oct', k: 'c2VjcmV0' } })}.${p}.${sig}`,
    `Bearer ${b64({ ...header, crit: ['exp'] })}.${p}.${sig}`,
    relabel({ iss: 'https://evil.example' }),
    relabel({ email: 'someone-else@example.test' }),
    relabel({ email_verified: false }),
    relabel({ exp: 1, iat: 0 }),
    relabel({ iat: 'yesterday', exp: null }),
    relabel({ aud: [] }),
    relabel({ sub: { $ne: null } }),
    relabel({ tessera_workspace: '00000000-0000-0000-0000-000000000000', scope: 'full apps:read apps:run' }),
    `Bearer ${h}.${b64('not an object')}.${sig}`,
    `Bearer ${b64([1, 2])}.${p}.${sig}`,
    `Bearer ${h}.${p}=.${sig}`,
    `Bearer ${h}.${p}.${sig}.${sig}`,
    `Bearer ${h}..${sig}`,
    `Bearer ${h}.${p}`,
    `Bearer ${h}.${'A'.repeat(9000)}.${sig}`,
    `Bearer ${b64({ ...header, kid: 'k'.repeat(5000) })}.${p}.${sig}`,
    `Bearer ${jwt} ${jwt}`,
    `Bearer ${jwt}, Bearer ${generateToken('tsa_')}`,
    latin1(`Bearer ${h}.${p}.${sig}é`),
  ];
}

export interface BodyVariant {
  name: string;
  headers: Record<string, string>;
  body: Buffer | string;
}

const JSON_TYPE = { 'content-type': 'application/json' };
const FORM_TYPE = { 'content-type': 'application/x-www-form-urlencoded' };

function manyKeys(n: number): string {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(`"k${i}":${i}`);
  return `{${parts.join(',')}}`;
}

/** Bodies that are wrong in type, size, depth, media type or content encoding. `valid` is a plausible JSON body for the route. */
export function bodyVariants(valid: string, form: string): BodyVariant[] {
  const json = (name: string, body: string | Buffer): BodyVariant => ({ name, headers: JSON_TYPE, body });
  const encoded = (name: string, encoding: string, body: Buffer, type = JSON_TYPE): BodyVariant => ({ name, headers: { ...type, 'content-encoding': encoding }, body });
  const gz = gzipSync(Buffer.from(valid));
  return [
    json('array', '[]'),
    json('string', '"x"'),
    json('number', '1'),
    json('null', 'null'),
    json('true', 'true'),
    json('truncated', '{"a":'),
    json('empty object', '{}'),
    json('empty', ''),
    json('proto', '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}}}'),
    json('wrong field types', '{"name":1,"scopes":"x","query":[],"inputs":"x","user_code":{},"email":[],"password":null,"response_mode":7}'),
    json('nul', '{"query":"a\\u0000b","name":"\\u0000","email":"\\u0000","user_code":"\\u0000"}'),
    json('lone surrogate', '{"query":"\\ud800","name":"\\udfff"}'),
    json('deep array', '['.repeat(100_000) + ']'.repeat(100_000)),
    json('deep object', '{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000)),
    json('50,000 keys', manyKeys(50_000)),
    json('1.2 MB string', JSON.stringify({ query: 'x'.repeat(1_200_000) })),
    json('invalid UTF-8', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])),
    { name: 'text/plain', headers: { 'content-type': 'text/plain' }, body: valid },
    { name: 'no content type', headers: {}, body: valid },
    { name: 'utf-16 charset', headers: { 'content-type': 'application/json; charset=utf-16' }, body: valid },
    { name: 'unknown charset', headers: { 'content-type': 'application/json; charset=klingon' }, body: valid },
    { name: 'bare charset', headers: { 'content-type': 'application/json; charset' }, body: valid },
    { name: 'quote content type', headers: { 'content-type': '"' }, body: valid },
    { name: 'multipart', headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--' },
    { name: 'form duplicates', headers: FORM_TYPE, body: `${form}&${form}` },
    { name: 'form odd', headers: FORM_TYPE, body: '%ff=%ff&&&==&client_id[]=x&a[b][c]=1' },
    { name: 'form huge', headers: FORM_TYPE, body: `${form}&pad=${'x'.repeat(20_000)}` },
    { name: 'form plain', headers: FORM_TYPE, body: form },
    encoded('gzip', 'gzip', gz),
    encoded('gzip upper-case', 'GZIP', gz),
    encoded('gzip truncated', 'gzip', gz.subarray(0, 12)),
    encoded('gzip garbage', 'gzip', Buffer.from('definitely not gzip')),
    encoded('gzip bomb', 'gzip', gzipSync(Buffer.alloc(20_000_000, 0x20))),
    encoded('gzip form truncated', 'gzip', gzipSync(Buffer.from(form)).subarray(0, 12), FORM_TYPE),
    encoded('deflate garbage', 'deflate', Buffer.from('not deflate at all')),
    encoded('deflate truncated', 'deflate', deflateSync(Buffer.from(valid)).subarray(0, 6)),
    encoded('br garbage', 'br', Buffer.from('garbage')),
    encoded('br truncated', 'br', brotliCompressSync(Buffer.from(valid)).subarray(0, 4)),
    encoded('compress', 'compress', Buffer.from(valid)),
    encoded('compress form', 'compress', Buffer.from(form), FORM_TYPE),
    encoded('zstd', 'zstd', Buffer.from(valid)),
    encoded('x-gzip', 'x-gzip', gz),
    encoded('gzip, gzip', 'gzip, gzip', gzipSync(gz)),
    encoded('identity', 'identity', Buffer.from(valid)),
  ];
}

/** Query strings that repeat, nest, mistype or mis-encode parameters. `params` are the route's own. */
export function queryVariants(params: { name: string; type?: string; format?: string }[]): string[] {
  const out = ['?zzz=1', '?a=%ff', '?%ff=1', '?%', `?q=${'x'.repeat(6000)}`, '?__proto__[x]=1', '?constructor[prototype][x]=1', '?a[b][c][d][e][f][g][h]=1'];
  for (const p of params) {
    out.push(`?${p.name}=1&${p.name}=2`, `?${p.name}[]=1`, `?${p.name}[x]=1`, `?${p.name}=`, `?${p.name}=%ff`, `?${p.name}=${'x'.repeat(3000)}`);
    if (p.type === 'integer') out.push(`?${p.name}=abc`, `?${p.name}=-1`, `?${p.name}=1e99`, `?${p.name}=1.5`);
    if (p.format === 'uuid') out.push(`?${p.name}=not-a-uuid`);
  }
  return out;
}

/** Return addresses that try to leave this origin after sign-in, raw and through normalisation. */
export const HOSTILE_NEXT = [
  '/..//evil.example',
  '/.//evil.example',
  '/a/..//evil.example',
  '/%2e%2e//evil.example',
  '/%2E%2E//evil.example',
  '/./..//evil.example',
  '/a/b/../..//evil.example',
  '/..%2f/evil.example',
  '//evil.example',
  '///evil.example',
  '/\\evil.example',
  '/\\/evil.example',
  '/%5Cevil.example',
  '/%5C%5Cevil.example',
  '/\t/evil.example',
  '/%09/evil.example',
  '/\n/evil.example',
  '/\r\nLocation: //evil.example',
  '/%0d%0aSet-Cookie:%20x=1',
  '/%2F/evil.example',
  '/%2f%2fevil.example',
  'https://evil.example',
  'http:evil.example',
  '/http://evil.example',
  'javascript:alert(1)',
  '/＼evil.example',
  '/．．//evil.example',
  '/\u3002/evil.example',
  '/\u2028/evil.example',
  '/@evil.example',
  '/;@evil.example',
  `/${'a/'.repeat(150)}`,
  `/${'x'.repeat(10_000)}`,
  '',
  'device',
];
