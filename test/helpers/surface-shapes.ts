import { existsSync } from 'node:fs';
import type { Surface } from '../../src/http/route-manifest.ts';
import { DOCS_FILE } from '../../src/server/docs-build.ts';
import type { RawResponse } from './raw-http.ts';
import { errorBodyProblems } from './spec.ts';

/**
 * The error codes of RFC 6749 §5.2, RFC 8628 §3.5 and RFC 7009 §2.2.1, plus the console's
 * login_required and the approval-grant endpoints' no_session (enterprise edition).
 */
const RFC_ERRORS = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'authorization_pending',
  'slow_down',
  'access_denied',
  'expired_token',
  'unsupported_token_type',
  'login_required',
  'no_session',
  'temporarily_unavailable',
]);

/** Which surface answers a path (docs/http.md). */
export function surfaceOf(path: string): Surface {
  const p = path.toLowerCase();
  if (p === '/openapi/v1/oauth' || p.startsWith('/openapi/v1/oauth/')) return 'oauth';
  if (/^\/\.well-known\/oauth-authorization-server\/?(\?|$)/.test(p)) return 'oauth';
  if (p.startsWith('/openapi/v1/')) return 'api';
  if (p.startsWith('/console/api/')) return 'console-api';
  return 'page';
}

export interface Sent {
  method: string;
  path: string;
  /** The declared route the request was aimed at. */
  routePath: string;
  expectStatus?: number;
}

/** What is wrong with an answer, if anything: a 5xx, a wrong status, or a 4xx outside its surface's shape. */
export function answerProblems(sent: Sent, res: RawResponse): string[] {
  const out: string[] = [];
  // The one 5xx by design: the offline API docs are a build product, 503 until `npm run docs` has run.
  if (sent.routePath === '/docs' && res.status === 503 && !existsSync(DOCS_FILE)) return out;
  if (res.status >= 500) out.push(`${res.status}: ${res.body.toString('utf8').slice(0, 200)}`);
  if (sent.expectStatus !== undefined && res.status !== sent.expectStatus) out.push(`status ${res.status}, expected ${sent.expectStatus}`);
  if ((res.status === 405 || (sent.method === 'OPTIONS' && res.status === 204)) && !res.headers.allow) out.push(`${res.status} without Allow`);
  if (res.status === 405 && res.headers.allow?.split(', ').includes(sent.method)) out.push(`405 but Allow lists ${sent.method}`);
  if (res.status < 400 || sent.method === 'HEAD') return out;
  const text = res.body.toString('utf8');
  const type = String(res.headers['content-type'] ?? '');
  const surface = surfaceOf(sent.path);
  if (surface === 'page') {
    if (!type.startsWith('text/html')) out.push(`page ${res.status} as ${type}`);
    return out;
  }
  if (!type.startsWith('application/json')) return [...out, `${surface} ${res.status} as ${type}: ${text.slice(0, 100)}`];
  if (res.body.length > 8192) out.push(`error body of ${res.body.length} bytes`);
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return [...out, `unparseable error body ${text.slice(0, 100)}`];
  }
  if (surface === 'oauth') {
    if (!RFC_ERRORS.has(body.error as string)) out.push(`not an RFC error code: ${String(body.error)}`);
    if (typeof body.error_description !== 'string') out.push('no error_description');
    if (!String(res.headers['cache-control']).includes('no-store')) out.push('OAuth error without Cache-Control: no-store');
    return out;
  }
  const shape = errorBodyProblems(body);
  if (shape) out.push(`not an ErrorBody: ${shape}`);
  if (body.request_id !== res.headers['x-request-id']) out.push('request_id differs from X-Request-Id');
  if (Array.isArray(body.details) && body.details.length > 21) out.push(`${body.details.length} details`);
  if (surface === 'api' && res.status === 401 && !res.headers['www-authenticate']) out.push('401 without WWW-Authenticate');
  return out;
}
