import { connect } from 'node:net';
import { MALFORMED_SEGMENTS, ODD_SEGMENTS } from './hostile.ts';

/** One request as it goes on the wire: the target is sent exactly as written. */
export interface WireRequest {
  method: string;
  target: string;
  headers: Record<string, string>;
  body?: string;
}

/**
 * Requests whose targets and methods take every turn of the front dispatcher and of express's
 * routing: plain API URLs, the same in another case, absolute-form, with a fragment, dot
 * segments, doubled and trailing slashes, malformed and odd percent-encoding, OAuth's prefix and
 * its look-alikes, the spec documents, pages, preflights, bodies, with and without a token and an
 * Origin. Each carries its own X-Request-Id, so that two servers answer with the same ids.
 */
export function oddRequests(o: { token: string; appId: string; origin: string }): WireRequest[] {
  const auth = { Authorization: `Bearer ${o.token}` };
  const targets = [
    '/openapi/v1/me',
    '/openapi/v1/me/',
    '/openapi/v1/me?',
    '/openapi/v1/me?x=1',
    '/openapi/v1/me?page=1&limit=5&page=2',
    '/openapi/v1/me#frag',
    '/openapi/v1/ME',
    '/OPENAPI/v1/me',
    '/OpenAPI/V1/me',
    'http://127.0.0.1/openapi/v1/me',
    'http://other.example/openapi/v1/me?x=1',
    '/openapi/v1//me',
    '/openapi/v1/./me',
    '/openapi/v1/../v1/me',
    '/openapi/v1/%6De',
    '/openapi/v1/me%2F',
    '/openapi/v1/me;x=1',
    '/openapi/v1',
    '/openapi/v1/',
    '/openapi/v1?x=1',
    '/openapi/v1x/me',
    '/openapi/v1/nope',
    '/openapi/v1/_health',
    '/openapi/v1/openapi.json',
    '/openapi/v1/OPENAPI.JSON',
    `/openapi/v1/apps/${o.appId}/info`,
    `/openapi/v1/apps/${o.appId.toUpperCase()}/info`,
    `/openapi/v1/apps/${o.appId}/info?x=1`,
    `/openapi/v1/apps/${o.appId}/info/`,
    ...[...MALFORMED_SEGMENTS, ...ODD_SEGMENTS.filter((s) => s.length < 100)].map((s) => `/openapi/v1/apps/${s}/info`),
    '/openapi/v1/oauth',
    '/openapi/v1/oauth/',
    '/openapi/v1/oauth/token',
    '/openapi/v1/OAUTH/token',
    '/openapi/v1/oauthx',
    '/openapi/v1/oauth?x=1',
    '/.well-known/oauth-authorization-server',
    '/',
    '/device',
    '/nowhere',
    '/%ff',
    '*',
  ];
  const requests: WireRequest[] = [];
  let n = 0;
  const id = () => ({ 'X-Request-Id': `odd-${++n}` });
  for (const target of targets) {
    requests.push({ method: 'GET', target, headers: { ...id() } });
    requests.push({ method: 'GET', target, headers: { ...id(), ...auth } });
    requests.push({ method: 'GET', target, headers: { ...id(), ...auth, Origin: o.origin } });
    requests.push({ method: 'GET', target, headers: { ...id(), ...auth, Origin: 'https://elsewhere.example' } });
    requests.push({ method: 'HEAD', target, headers: { ...id(), ...auth } });
    requests.push({ method: 'OPTIONS', target, headers: { ...id() } });
    requests.push({ method: 'OPTIONS', target, headers: { ...id(), Origin: o.origin, 'Access-Control-Request-Method': 'GET' } });
    requests.push({ method: 'DELETE', target, headers: { ...id(), ...auth } });
    requests.push({ method: 'POST', target, headers: { ...id(), ...auth, 'Content-Type': 'application/json' }, body: '{"query":' });
    requests.push({ method: 'POST', target, headers: { ...id(), ...auth, 'Content-Type': 'application/json' }, body: '{"inputs":{},"query":"hi","response_mode":"blocking"}' });
  }
  // A request without an id of its own: the server makes one (normalised in the comparison).
  requests.push({ method: 'GET', target: '/openapi/v1/me', headers: auth });
  return requests;
}

/** Sends one request on a connection of its own (Connection: close) and returns every byte of the answer, up to the server's close. */
export function exchange(port: number, r: WireRequest, timeoutMs = 15_000): Promise<Buffer> {
  const lines = [`${r.method} ${r.target} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Connection: close'];
  for (const [name, value] of Object.entries(r.headers)) lines.push(`${name}: ${value}`);
  if (r.body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(r.body)}`);
  const head = `${lines.join('\r\n')}\r\n\r\n`;
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error(`${r.method} ${r.target}: no end within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err) => (clearTimeout(timer), reject(err)));
    socket.on('close', () => (clearTimeout(timer), resolve(Buffer.concat(chunks))));
    // Not end(): a client that half-closes may have its request dropped before it is answered.
    socket.write(r.body === undefined ? head : head + r.body);
  });
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/**
 * An answer with what may differ between two servers answering the same request blanked: the
 * Date, the rate limit's count (the servers share one limit), and a request id the server made.
 */
export function normalized(answer: Buffer, request: WireRequest): string {
  let text = answer.toString('latin1').replace(/^Date: .*$/gim, 'Date: -').replace(/^(RateLimit-(?:Remaining|Reset)): \d+$/gim, '$1: -');
  if (!request.headers['X-Request-Id']) text = text.replace(UUID, '<uuid>');
  return text;
}
