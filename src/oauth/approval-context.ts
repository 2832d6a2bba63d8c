// RFC 8628 §3.3 and §5.4: what the user is about to approve in the external-SSO branch,
// read by the /device page with the approval-grant cookie. Not an RFC endpoint.
import type { RequestHandler } from 'express';
import { deviceFlowFor, formatUserCode } from '../device-flow/device-flow-service.ts';
import type { Services } from '../services.ts';
import { NotFound } from './errors.ts';
import { NoSession } from './sso-errors.ts';

export function approvalContext(s: Services): RequestHandler {
  const flow = deviceFlowFor(s);
  const grants = s.sso!.grants;
  return async (req, res) => {
    res.set('Cache-Control', 'no-store');
    const grant = await grants.read(req);
    if (!grant) throw new NoSession();
    const rec = await flow.findPendingByHash(grant.deviceHash);
    if (!rec) throw new NotFound();
    res.json({
      client_id: rec.client_id,
      device_label: rec.device_label,
      user_code: formatUserCode(grant.userCode),
      subject_email: grant.subject.email,
      subject_issuer: grant.subject.issuer,
      expires_in_remaining: Math.max(0, Math.floor((rec.expires_at_ms - Date.now()) / 1000)),
      csrf_token: grants.csrfToken(grant),
    });
  };
}
