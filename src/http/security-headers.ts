import type { RequestHandler } from 'express';
import { requestId } from './request-id.ts';

/** Anti-framing for the device page, sign-in and the OAuth endpoints (clickjacking, RFC 8628 §5.4). */
export const noFraming: RequestHandler = (_req, res, next) => {
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Content-Security-Policy', "frame-ancestors 'none'");
  next();
};

/** On every response: no MIME sniffing, no Referer leaving with links. */
export const baseHeaders: RequestHandler = (req, res, next) => {
  // The request id first, in the same middleware: each middleware is a router step on every request.
  requestId(req, res);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  next();
};
