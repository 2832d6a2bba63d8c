/**
 * Problems with the HTTP request itself — its target, its method or the bytes of its
 * body — found before any handler reads it. None of them is the server's fault, so
 * they are never logged at error level. Each surface renders them in its own shape
 * (API errors, RFC 6749 §5.2 errors, HTML pages); this module only recognises them.
 */
export type ProblemKind =
  | 'malformed_path'
  | 'no_route'
  | 'method_not_allowed'
  | 'body_unreadable'
  | 'body_aborted'
  | 'body_too_large'
  | 'unsupported_encoding';

export class RequestProblem extends Error {
  constructor(
    readonly status: 400 | 404 | 405 | 413 | 415,
    readonly kind: ProblemKind,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const malformedPath = () =>
  new RequestProblem(400, 'malformed_path', 'The request path is not valid percent-encoded UTF-8.');
export const noRoute = () => new RequestProblem(404, 'no_route', 'No such route.');

/** RFC 3986 §2.1 percent-encoding that also decodes to valid UTF-8 (overlong forms such as %C0%AE are refused). */
export function isWellEncoded(path: string): boolean {
  if (!path.includes('%')) return true;
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}

/** Encodings body-parser can undo; anything else is a 415. */
export const BODY_ENCODINGS = 'identity, gzip, deflate or br';

type HttpError = { type?: string; status?: number; expose?: boolean; code?: string; encoding?: string };

/**
 * The request-level errors express, body-parser and raw-body raise, as problems; null
 * for anything else (which stays the surface's own business: a bug is still a 500).
 */
export function asRequestProblem(err: unknown): RequestProblem | null {
  if (err instanceof RequestProblem) return err;
  // The router decodes path parameters itself and throws URIError (status 400) on bad ones.
  if (err instanceof URIError) return malformedPath();
  if (typeof err !== 'object' || err === null) return null;
  const e = err as HttpError;
  switch (e.type) {
    case 'entity.parse.failed':
      return new RequestProblem(400, 'body_unreadable', 'The request body is not valid JSON.');
    case 'entity.too.large':
    case 'parameters.too.many':
      return new RequestProblem(413, 'body_too_large', 'The request body is too large.');
    case 'encoding.unsupported':
      return new RequestProblem(415, 'unsupported_encoding', `Unsupported Content-Encoding; send ${BODY_ENCODINGS}.`);
    case 'charset.unsupported':
      return new RequestProblem(415, 'unsupported_encoding', 'Unsupported charset; send UTF-8.');
    case 'request.aborted':
      return new RequestProblem(400, 'body_aborted', 'The client closed the request before its body arrived.');
    case 'request.size.invalid':
      return new RequestProblem(400, 'body_unreadable', 'The request body does not match its Content-Length.');
  }
  // Anything else body-parser wraps as a 400 is a body that could not be read: a broken
  // gzip/deflate/br stream, or the connection failing underneath it.
  if (e.status === 400 && e.expose === true) {
    if (e.code === 'ECONNRESET' || e.code === 'ECONNABORTED') {
      return new RequestProblem(400, 'body_aborted', 'The client closed the request before its body arrived.');
    }
    return new RequestProblem(400, 'body_unreadable', 'The request body could not be decoded; check its Content-Encoding.');
  }
  return null;
}

/** Strings echoed from the request into an error are clipped, so an error never grows with the input. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
