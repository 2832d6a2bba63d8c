import type { ErrorRequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { DatabaseUnavailableError, InvalidDataError } from '../storage/db.ts';
import { StoreUnavailableError } from '../storage/store/index.ts';
import { ApiError } from '../errors.ts';
import { asRequestProblem, clip } from './request-problem.ts';
import { requestFailed } from './request-tracing.ts';

export const BODY_LIMIT = '1mb';

/** A 400 lists at most this many problems, then one entry counting the rest. */
export const MAX_DETAILS = 20;
const MAX_MESSAGE = 500;
const MAX_DETAIL_TEXT = 200;

interface ValidatorError {
  status: number;
  message: string;
  errors?: { path: string; message: string }[];
}

function isValidatorError(err: unknown): err is ValidatorError {
  return typeof err === 'object' && err !== null && 'status' in err && Array.isArray((err as { errors?: unknown }).errors);
}

const PROBLEM_CODES: Record<number, string> = {
  400: 'invalid_request',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

/** Turns anything thrown on a resource or console API route into the API error shape (`ErrorBody` in openapi.yaml). */
export function toApiError(err: unknown, log: Logger, requestId: string): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof StoreUnavailableError || err instanceof DatabaseUnavailableError) {
    log.warn({ err: err.message, request_id: requestId }, 'dependency unavailable');
    return new ApiError(503, 'service_unavailable', 'A dependency is unavailable; retry shortly.');
  }
  if (err instanceof InvalidDataError) return new ApiError(400, 'invalid_request', 'A value in the request cannot be stored (for example, it contains a NUL character).');
  const problem = asRequestProblem(err);
  if (problem) {
    // The client's mistake, not ours: the access log has the status, this says why.
    log.debug({ request_id: requestId, problem: problem.kind }, problem.message);
    return new ApiError(problem.status, PROBLEM_CODES[problem.status]!, problem.message, { headers: problem.headers });
  }
  if (isValidatorError(err)) {
    if (err.status === 404) return new ApiError(404, 'not_found', 'No such route.');
    if (err.status === 405) return new ApiError(405, 'method_not_allowed', err.message);
    if (err.status === 415) return new ApiError(415, 'unsupported_media_type', err.message);
    if (err.status === 413) return new ApiError(413, 'payload_too_large', err.message);
    if (err.status === 400) {
      const details = (err.errors ?? []).map((e) => ({ path: e.path, message: e.message }));
      return new ApiError(400, 'invalid_request', err.message, { details });
    }
    if (err.status < 500) return new ApiError(err.status, 'invalid_request', err.message);
  }
  log.error({ err, request_id: requestId }, 'unhandled error');
  return new ApiError(500, 'internal_error', 'Something went wrong on our side.');
}

/**
 * The first MAX_DETAILS problems, then one entry (path "", the whole request) counting
 * the rest, so an error stays small however much input it complains about.
 */
export function capDetails(details: readonly { path: string; message: string }[]): { path: string; message: string }[] {
  const shown = details.slice(0, MAX_DETAILS).map((d) => ({ path: clip(d.path, MAX_DETAIL_TEXT), message: clip(d.message, MAX_DETAIL_TEXT) }));
  const rest = details.length - shown.length;
  if (rest > 0) shown.push({ path: '', message: `${rest} more problem${rest === 1 ? '' : 's'} not shown` });
  return shown;
}

export function sendApiError(res: Response, e: ApiError, requestId: string): void {
  if (e.extra.headers) res.set(e.extra.headers);
  const body: Record<string, unknown> = { error: e.code, message: clip(e.message, MAX_MESSAGE), request_id: requestId };
  if (e.extra.details) body.details = capDetails(e.extra.details);
  if (e.extra.retryAfterMs !== undefined) body.retry_after_ms = e.extra.retryAfterMs;
  // res.end, not res.json: error bodies bypass response validation (tests check them against the spec).
  res.status(e.status).type('application/json').end(JSON.stringify(body));
}

export function apiErrorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) {
      log.error({ err, request_id: req.id }, 'error after response started');
      return next(err);
    }
    const e = toApiError(err, log, req.id);
    if (e.status >= 500) requestFailed(req, err);
    sendApiError(res, e, req.id);
  };
}
