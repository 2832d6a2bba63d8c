// RFC 8628 §3.3 (user interaction) and §5.4: the user's explicit approve or deny,
// from the first-party /device page. Not an RFC endpoint; answers in RFC error form.
import type { RequestHandler } from 'express';
import { RateLimiter } from '../auth/rate-limit.ts';
import { consoleSessionsFor } from '../console/session.ts';
import { deviceFlowFor } from '../device-flow/device-flow-service.ts';
import { originOf } from '../observability/audit.ts';
import type { Services } from '../services.ts';
import { Conflict, Forbidden, InvalidRequest, LoginRequired, NotFound, TooManyRequests } from './errors.ts';
import { readParams } from './params.ts';

/** Approvals and denials per hour, per console session (and per external subject in the SSO branch). */
export const APPROVALS_PER_HOUR = 30;
export const APPROVAL_LIMIT = 'device-approval';

export function deviceApproval(s: Services, decision: 'approve' | 'deny'): RequestHandler {
  const flow = deviceFlowFor(s);
  const sessions = consoleSessionsFor(s);
  const limiter = new RateLimiter(s.store, APPROVALS_PER_HOUR);
  return async (req, res) => {
    const session = await sessions.read(req);
    if (!session) throw new LoginRequired();
    if (!sessions.checkCsrf(req, session)) throw new Forbidden('The X-CSRF-Token header is missing or wrong.');
    const { user_code: userCode } = readParams(req, true);
    if (!userCode || userCode.length > 20) throw new InvalidRequest('user_code is required.');
    const limit = await limiter.hitKey(APPROVAL_LIMIT, session.sid, APPROVALS_PER_HOUR, 3600_000);
    if (!limit.allowed) throw new TooManyRequests(Math.ceil(limit.resetMs / 1000));
    const account = await s.accounts.findById(session.accountId);
    if (!account) throw new LoginRequired();
    const result = decision === 'approve' ? await flow.approve(userCode, account, originOf(req)) : await flow.deny(userCode, account, originOf(req));
    if (result === 'not_found') {
      // A wrong code is a guess: it counts toward the same per-IP window as lookups.
      const ipLimit = await flow.hitLookupLimit(req.ip);
      if (!ipLimit.allowed) throw new TooManyRequests(ipLimit.retryAfterSeconds);
      throw new NotFound();
    }
    if (result === 'conflict') throw new Conflict();
    res.set('Cache-Control', 'no-store');
    res.json({ status: decision === 'approve' ? 'approved' : 'denied' });
  };
}
