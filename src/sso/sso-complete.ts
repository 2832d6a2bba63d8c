// OIDC Core §3.1.2.5–3.1.2.7 (authentication response and its validation) and §3.1.3
// (token request, ID token validation): the IdP's redirect back to Tessera.
import type { ErrorRequestHandler, Request, Response, Router } from 'express';
import { Liquid } from 'liquidjs';
import { pageErrorsFor } from '../console/page-errors.ts';
import { pageHeaders, TEMPLATES_DIR } from '../console/pages.ts';
import { emailFromClaim } from '../auth/email.ts';
import { deviceFlowFor } from '../device-flow/device-flow-service.ts';
import { asRequestProblem } from '../http/request-problem.ts';
import { routeManifestFor } from '../http/route-manifest.ts';
import type { Services } from '../services.ts';
import { SsoVerificationError } from './oidc-rp.ts';
import { CALLBACK_PATH } from './sso.ts';

const AGAIN = 'Start the sign-in again from your terminal.';
const STATE_MESSAGES = {
  invalid: `This sign-in link is not valid. ${AGAIN}`,
  used_or_expired: `This sign-in link has expired or was already used. ${AGAIN}`,
  other_browser: `This sign-in was started in another browser. Finish it in the browser where you chose single sign-on, or ${AGAIN.toLowerCase()}`,
};

/**
 * GET /device/sso-complete: verifies and consumes the one-time state, exchanges the code
 * (openid-client checks the ID token), requires a verified email, then sets the
 * approval-grant cookie and sends the browser to /device with nothing in the address.
 * Every failure is a page that says what happened; nothing is approved.
 */
export function ssoPages(s: Services): Router {
  const sso = s.sso!;
  const flow = deviceFlowFor(s);
  const liquid = new Liquid({ root: TEMPLATES_DIR, extname: '.liquid', outputEscape: 'escape', cache: true });
  const router = routeManifestFor(s).router('page', { base: '', owns: 'routes', head: true, front: [pageHeaders] });
  const fail = async (res: Response, status: number, message: string) => {
    // The page's script removes code and state from the address bar.
    res.status(status).type('html').send(await liquid.renderFile('error', { title: 'Single sign-on', message, script: 'device-sso.js' }));
  };

  router.get(CALLBACK_PATH, async (req: Request, res) => {
    const { state, code, error } = req.query;
    const taken = await sso.states.take(state, sso.readBinding(req));
    sso.clearBinding(res);
    if (error !== undefined) {
      const known = typeof error === 'string' && /^[a-z_]{1,40}$/.test(error) ? error : 'error';
      const message =
        known === 'access_denied'
          ? `Sign-in with ${sso.displayName} was cancelled or refused, so nothing was approved. ${AGAIN}`
          : `${sso.displayName} could not sign you in (${known}), so nothing was approved. ${AGAIN}`;
      return fail(res, 400, message);
    }
    if (!taken.ok) return fail(res, 400, STATE_MESSAGES[taken.reason]);
    if (typeof code !== 'string') return fail(res, 400, STATE_MESSAGES.invalid);
    const config = await sso.rp.configuration();
    if (!config) return fail(res, 503, `${sso.displayName} is temporarily unavailable. Try again in a few minutes.`);

    let claims;
    try {
      const query = req.originalUrl.indexOf('?');
      const callback = new URL(`${s.config.publicUrl}${CALLBACK_PATH}${query < 0 ? '' : req.originalUrl.slice(query)}`);
      claims = await sso.rp.exchange(config, callback, taken.state, state as string);
    } catch (err) {
      if (!(err instanceof SsoVerificationError)) throw err;
      s.log.warn({ request_id: req.id, reason: err.reason }, 'sso: sign-in response refused');
      return fail(res, 400, `Tessera could not verify your sign-in with ${sso.displayName}, so nothing was approved. ${AGAIN}`);
    }
    if (!claims.email) return fail(res, 400, `${sso.displayName} did not tell Tessera your email address, so nothing was approved.`);
    // As a federated JWT's email is read: the subject is keyed by it.
    const email = emailFromClaim(claims.email);
    if (!email) {
      s.log.warn({ request_id: req.id, reason: 'bad_email' }, 'sso: sign-in response refused');
      return fail(res, 400, `${sso.displayName} gave Tessera an email address it cannot use, so nothing was approved. Check your address there, then ${AGAIN.toLowerCase()}`);
    }
    if (claims.emailVerified !== true) {
      return fail(res, 400, `Your email address at ${sso.displayName} is not verified, so nothing was approved. Verify it there, then ${AGAIN.toLowerCase()}`);
    }
    const rec = await flow.findPendingByHash(taken.state.deviceHash);
    if (!rec) return fail(res, 400, `This code has expired or was already used. ${AGAIN}`);
    await sso.grants.issue(res, {
      deviceHash: taken.state.deviceHash,
      userCode: rec.user_code,
      subject: { issuer: claims.issuer, sub: claims.sub, email, name: claims.name ?? null, sid: claims.sid ?? null },
    });
    res.redirect(303, '/device');
  });

  router.use(((err, req, res, next) => {
    if (res.headersSent) return next(err);
    // A problem with the request itself (another method: 405 with Allow; a malformed path)
    // is answered like on every page, not as trouble on Tessera's side.
    if (asRequestProblem(err)) return pageErrorsFor(s).handler(err, req, res, next);
    s.log.error({ err, request_id: req.id }, 'error on the single sign-on callback');
    fail(res, 503, 'Tessera is having trouble right now. Please try again in a moment.').catch(next);
  }) as ErrorRequestHandler);
  return router;
}
