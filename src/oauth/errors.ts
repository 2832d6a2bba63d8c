import type { ErrorRequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { asRequestProblem, clip, type RequestProblem } from '../http/request-problem.ts';
import { requestFailed } from '../http/request-tracing.ts';
import { DatabaseUnavailableError } from '../storage/db.ts';
import { StoreUnavailableError } from '../storage/store/index.ts';

/** RFC 6749 §5.2 error; `expose: false` hides the description behind `server_error`. */
export class OAuthError extends Error {
  status = 400;
  expose = true;
  headers: Record<string, string> = {};
  constructor(
    readonly error: string,
    readonly description: string,
  ) {
    super(description);
  }
}

export class InvalidRequest extends OAuthError {
  constructor(d: string) {
    super('invalid_request', d);
  }
}
export class InvalidClient extends OAuthError {
  override status = 401;
  constructor(d = 'Unknown client.', challenge?: string) {
    super('invalid_client', d);
    // §5.2: a client that authenticated through the Authorization header is told, in its scheme, that it failed.
    if (challenge) this.headers = { 'WWW-Authenticate': challenge };
  }
}
export class InvalidGrant extends OAuthError {
  constructor(d = 'The device code is invalid, was already used, or belongs to another client.') {
    super('invalid_grant', d);
  }
}
export class InvalidScope extends OAuthError {
  constructor(d: string) {
    super('invalid_scope', d);
  }
}
export class UnsupportedGrantType extends OAuthError {
  constructor(d = 'Only urn:ietf:params:oauth:grant-type:device_code is supported.') {
    super('unsupported_grant_type', d);
  }
}
export class AuthorizationPending extends OAuthError {
  constructor() {
    super('authorization_pending', 'The user has not yet approved or denied this request.');
  }
}
export class SlowDown extends OAuthError {
  constructor(interval: number) {
    super('slow_down', `Polling too fast; wait at least ${interval} seconds between requests.`);
  }
}
export class AccessDenied extends OAuthError {
  constructor() {
    super('access_denied', 'The user denied the request.');
  }
}
export class ExpiredToken extends OAuthError {
  constructor() {
    super('expired_token', 'The device code has expired; start a new device authorization.');
  }
}
/** RFC 9449 §5: the DPoP proof of a token request is invalid (or was used before). */
export class InvalidDpopProof extends OAuthError {
  constructor(d: string) {
    super('invalid_dpop_proof', d);
  }
}
/** RFC 7009 §2.2.1: the server cannot revoke this kind of token (a JWT: its issuer is not Tessera). */
export class UnsupportedTokenType extends OAuthError {
  constructor(d: string) {
    super('unsupported_token_type', d);
  }
}
/** 429 for the per-IP and per-session limits (docs/device-flow.md, Limits). */
export class TooManyRequests extends OAuthError {
  override status = 429;
  constructor(retryAfterSeconds: number) {
    super('slow_down', `Too many requests; retry after ${retryAfterSeconds} seconds.`);
    this.headers = { 'Retry-After': String(Math.max(1, retryAfterSeconds)) };
  }
}
export class NotFound extends OAuthError {
  override status = 404;
  constructor() {
    super('invalid_grant', 'Unknown or expired code.');
  }
}
export class Conflict extends OAuthError {
  override status = 409;
  constructor() {
    super('invalid_grant', 'This code was already approved or denied.');
  }
}
/** The console session cookie is missing, expired or signed out. */
export class LoginRequired extends OAuthError {
  override status = 401;
  constructor() {
    super('login_required', 'Sign in to the console first.');
  }
}
export class Forbidden extends OAuthError {
  override status = 403;
  constructor(d: string) {
    super('access_denied', d);
  }
}
/** A problem with the HTTP request itself (path, method, body bytes): its own status, RFC shape. */
export class HttpLevelError extends OAuthError {
  constructor(problem: RequestProblem) {
    super('invalid_request', problem.message);
    this.status = problem.status;
    this.headers = problem.headers;
  }
}
export class ServerError extends OAuthError {
  override status = 500;
  override expose = false;
  constructor() {
    super('server_error', 'Something went wrong on our side.');
  }
}
export class TemporarilyUnavailable extends OAuthError {
  override status = 503;
  constructor() {
    super('temporarily_unavailable', 'A dependency is unavailable; retry shortly.');
  }
}

/**
 * The one renderer for /oauth/*: `{error, error_description}`, no-store, and
 * WWW-Authenticate only for a client that tried to authenticate (RFC 6749 §5.2).
 */
export function sendOAuthError(res: Response, err: OAuthError): void {
  const e = err.expose ? err : new ServerError();
  res.set(err.headers);
  res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
  res.status(e.status).json({ error: e.error, error_description: clip(e.description, 300) });
}

export function oauthErrorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    const e = asOAuthError(err, log, req.id);
    // A 5xx (server_error, temporarily_unavailable) is a failure of the request for tracers.
    if (e.status >= 500 || !e.expose) requestFailed(req, err);
    sendOAuthError(res, e);
  };
}

function asOAuthError(err: unknown, log: Logger, requestId: string): OAuthError {
  if (err instanceof OAuthError) return err;
  if (err instanceof StoreUnavailableError || err instanceof DatabaseUnavailableError) return new TemporarilyUnavailable();
  const problem = asRequestProblem(err);
  if (problem) {
    log.debug({ request_id: requestId, problem: problem.kind }, problem.message);
    return new HttpLevelError(problem);
  }
  log.error({ err, request_id: requestId }, 'unhandled error on an OAuth endpoint');
  return new ServerError();
}
