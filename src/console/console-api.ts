import express, { type Router } from 'express';
import { z } from 'zod';
import { apiErrorHandler } from '../http/error-mapper.ts';
import { noRoute } from '../http/request-problem.ts';
import { routeManifestFor } from '../http/route-manifest.ts';
import { ApiError } from '../errors.ts';
import type { Services } from '../services.ts';
import { accountApi } from './account-api.ts';
import { consoleSessionsFor } from './session.ts';
import { SigninService } from './signin.ts';
import { resetSeconds } from '../auth/rate-limit.ts';

const signinBody = z.object({ email: z.string().min(1).max(320), password: z.string().min(1).max(1024) }).strict();

const unauthenticated = () => new ApiError(401, 'unauthenticated', 'Sign in first.');

/**
 * First-party console API: cookie sessions, not in openapi.yaml (it serves this
 * server's own pages, not API clients).
 * Errors use the API error shape. Bodies must be JSON, which a cross-site form
 * cannot send without a CORS preflight: that, SameSite=Lax and the CSRF header
 * on state changes keep other sites out.
 */
export function consoleApi(s: Services): Router {
  const sessions = consoleSessionsFor(s);
  const signins = new SigninService(s);
  const router = routeManifestFor(s).router('console-api', { base: '/console/api', owns: 'prefix', head: true });
  router.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });
  const json = express.json({ limit: '16kb' });
  const needJson: express.RequestHandler = (req, _res, next) =>
    next(req.is('application/json') ? undefined : new ApiError(415, 'unsupported_media_type', 'Send the body as application/json.'));

  router.post('/signin', needJson, json, async (req, res) => {
    const parsed = signinBody.safeParse(req.body);
    if (!parsed.success) {
      const details = parsed.error.issues.map((i) => ({ path: `/body/${i.path.join('/')}`, message: i.message }));
      throw new ApiError(400, 'invalid_request', 'email and password are required.', { details });
    }
    const result = await signins.signin(req.ip, parsed.data.email, parsed.data.password);
    if (!result.ok && result.reason === 'rate_limited') {
      throw new ApiError(429, 'rate_limited', 'Too many sign-in attempts; wait and try again.', {
        retryAfterMs: result.retryAfterMs,
        headers: { 'Retry-After': resetSeconds(result.retryAfterMs) },
      });
    }
    if (!result.ok && result.reason === 'disabled') throw new ApiError(403, 'account_disabled', 'This account is disabled. Ask your administrator.');
    if (!result.ok) throw new ApiError(401, 'invalid_credentials', 'The email or password is wrong.');
    const session = await sessions.issue(res, result.account.id);
    res.json({ account: result.account, csrf_token: sessions.csrfToken(session) });
  });

  router.get('/session', async (req, res) => {
    const session = await sessions.read(req);
    if (!session) throw unauthenticated();
    const account = await s.accounts.findById(session.accountId);
    if (!account) throw unauthenticated();
    res.json({ account, workspaces: await s.accounts.workspaces(account.id), csrf_token: sessions.csrfToken(session) });
  });

  router.post('/signout', async (req, res) => {
    const session = await sessions.read(req);
    if (session && !sessions.checkCsrf(req, session)) throw new ApiError(403, 'csrf_failed', 'The X-CSRF-Token header is missing or wrong.');
    await sessions.revoke(res, session);
    res.status(204).end();
  });

  accountApi(s, router);

  router.use((_req, _res, next) => next(noRoute()));
  router.use(apiErrorHandler(s.log));
  return router;
}
