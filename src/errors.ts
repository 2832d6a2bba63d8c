// Errors shared by every layer (auth, http, use cases): they live below all of them.
/** An error on a resource route, rendered as `{error, message, request_id, …}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: {
      details?: { path: string; message: string }[];
      retryAfterMs?: number;
      headers?: Record<string, string>;
    } = {},
  ) {
    super(message);
  }
}

export const badRequest = (message: string, details?: { path: string; message: string }[]) =>
  new ApiError(400, 'invalid_request', message, { details });
export const notFound = (what = 'Resource') => new ApiError(404, 'not_found', `${what} not found.`);
export const forbidden = (message: string) => new ApiError(403, 'forbidden', message);
export const serviceUnavailable = () =>
  new ApiError(503, 'service_unavailable', 'A dependency is unavailable; retry shortly.');
