// RFC 8628 §3.3 (user interaction) and §5.4: the external subject's explicit approve or deny,
// with the one-time approval-grant cookie and its CSRF token. Not an RFC endpoint.
import type { RequestHandler } from 'express';
import { RateLimiter } from '../auth/rate-limit.ts';
import { deviceFlowFor, normalizeUserCode } from '../device-flow/device-flow-service.ts';
import { originOf } from '../observability/audit.ts';
import type { Services } from '../services.ts';
import { APPROVALS_PER_HOUR, APPROVAL_LIMIT } from './device-approval.ts';
import { Conflict, Forbidden, InvalidRequest, NotFound, TooManyRequests } from './errors.ts';
import { readParams } from './params.ts';
import { NoSession } from './sso-errors.ts';

export function externalApproval(s: Services, decision: 'approve' | 'deny'): RequestHandler {
  const flow = deviceFlowFor(s);
  const grants = s.sso!.grants;
  const limiter = new RateLimiter(s.store, APPROVALS_PER_HOUR);
  return async (req, res) => {
    res.set('Cache-Control', 'no-store');
    const grant = await grants.read(req);
    if (!grant) throw new NoSession();
    if (!grants.checkCsrf(req, grant)) throw new Forbidden('The X-CSRF-Token header is missing or wrong.');
    const { user_code: userCode } = readParams(req, true);
    if (!userCode || userCode.length > 20) throw new InvalidRequest('user_code is required.');
    // The code the page shows must be the one the grant was issued for; nothing changes otherwise.
    if (normalizeUserCode(userCode) !== grant.userCode) throw new InvalidRequest('This approval is for another code.');
    // The account branch's limit, per external subject instead of per console session.
    const limit = await limiter.hitKey(APPROVAL_LIMIT, `sso\n${grant.subject.issuer}\n${grant.subject.email}`, APPROVALS_PER_HOUR, 3600_000);
    if (!limit.allowed) throw new TooManyRequests(Math.ceil(limit.resetMs / 1000));
    const rec = await flow.findByHash(grant.deviceHash);
    if (!(await grants.consume(grant))) throw new NoSession();
    grants.clear(res);
    if (!rec) throw new NotFound();
    const result = await flow.resolveExternal(grant.deviceHash, rec, grant.subject, decision === 'approve' ? 'approved' : 'denied', originOf(req));
    if (result === 'not_found') throw new NotFound();
    if (result === 'conflict') throw new Conflict();
    res.json({ status: decision === 'approve' ? 'approved' : 'denied' });
  };
}
