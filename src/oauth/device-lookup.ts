// Not an RFC endpoint: lets the /device page pre-validate a user code (docs/device-flow.md).
import type { RequestHandler } from 'express';
import { deviceFlowFor } from '../device-flow/device-flow-service.ts';
import type { Services } from '../services.ts';
import { InvalidRequest, TooManyRequests } from './errors.ts';

export function deviceLookup(s: Services): RequestHandler {
  const flow = deviceFlowFor(s);
  return async (req, res) => {
    const code = req.query.user_code;
    // RFC 6749 §3.1: parameters must not be repeated (the query parser makes them an array).
    if (Array.isArray(code)) throw new InvalidRequest('user_code is repeated.');
    if (typeof code !== 'string' || code.length === 0 || code.length > 20) throw new InvalidRequest('user_code is required.');
    // Every lookup counts toward the per-IP limit, so guessing codes is bounded.
    const limit = await flow.hitLookupLimit(req.ip);
    if (!limit.allowed) throw new TooManyRequests(limit.retryAfterSeconds);
    res.set('Cache-Control', 'no-store');
    res.json(await flow.lookup(code));
  };
}
