import type { Request, RequestHandler, Response } from 'express';
import { putHeader } from './held-headers.ts';
import { requestId } from './request-id.ts';

/** Anti-framing for the device page, sign-in and the OAuth endpoints (clickjacking, RFC 8628 §5.4). */
export const noFraming: RequestHandler = (_req, res, next) => {
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Content-Security-Policy', "frame-ancestors 'none'");
  next();
};

/** On every response: the request id, no MIME sniffing, no Referer leaving with links. */
export function setBaseHeaders(req: Request, res: Response): void {
  requestId(req, res);
  putHeader(res, 'X-Content-Type-Options', 'nosniff');
  putHeader(res, 'Referrer-Policy', 'no-referrer');
}
