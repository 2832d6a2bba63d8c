import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { RateLimiter, resetSeconds } from '../auth/rate-limit.ts';
import { ApiError, notFound } from '../errors.ts';
import { apiKeysFor, apiKeyView } from '../identity/api-keys.ts';
import { deviceSessionsFor, sessionView } from '../identity/device-sessions.ts';
import { originOf } from '../observability/audit.ts';
import type { Services } from '../services.ts';
import { consoleSessionsFor, type ConsoleSession } from './session.ts';

/** State changes per console session per hour: generous for a person, a wall for a script gone wrong. */
const CHANGES_PER_HOUR = 120;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const listQuery = z.object({
  page: z.coerce.number().int().min(1).max(100_000).default(1),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

const newKey = z
  .object({
    name: z.string().trim().min(1).max(100),
    scopes: z
      .array(z.enum(['apps:read', 'apps:run']))
      .min(1)
      .refine((a) => new Set(a).size === a.length, 'scopes must not repeat'),
    expires_in_days: z.number().int().min(1).max(3650).nullable().optional(),
  })
  .strict();

function parse<T>(schema: z.ZodType<T>, value: unknown, where: 'body' | 'query'): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const details = parsed.error.issues.map((i) => ({ path: `/${where}/${i.path.join('/')}`, message: i.message }));
  throw new ApiError(400, 'invalid_request', `The request ${where} is not valid.`, { details });
}

const envelope = <T>(data: T[], total: number, page: number, limit: number) => ({ data, page, limit, total, has_more: page * limit < total });

type Authed = Request & { consoleSession?: ConsoleSession };

/**
 * The account page's API (first party, cookie session, not in openapi.yaml): the
 * devices logged in to the account, its personal API keys, and signing out everywhere. Every state change
 * needs the session's X-CSRF-Token (compared in constant time) and counts toward a
 * per-session limit. Revocations reach every replica through the identity cache's
 * pub/sub, so a revoked token is refused everywhere at once. The routes are declared on
 * the console API's manifest router, so they get its 405s and the hostile-input walk.
 */
export function accountApi(s: Services, router: Router): void {
  const sessions = consoleSessionsFor(s);
  const devices = deviceSessionsFor(s);
  const apiKeys = apiKeysFor(s);
  const limiter = new RateLimiter(s.store, CHANGES_PER_HOUR);
  const json = express.json({ limit: '16kb' });

  const signedIn = async (req: Authed, _res: Response, next: NextFunction) => {
    const session = await sessions.read(req);
    if (!session || !(await s.accounts.findById(session.accountId))) throw new ApiError(401, 'unauthenticated', 'Sign in first.');
    req.consoleSession = session;
    next();
  };
  const change = async (req: Authed, _res: Response, next: NextFunction) => {
    const session = req.consoleSession!;
    if (!sessions.checkCsrf(req, session)) throw new ApiError(403, 'csrf_failed', 'The X-CSRF-Token header is missing or wrong.');
    const limit = await limiter.hitKey('console-account', session.sid, CHANGES_PER_HOUR, 3600_000);
    if (!limit.allowed) {
      throw new ApiError(429, 'rate_limited', 'Too many changes from this session; wait and try again.', {
        retryAfterMs: limit.resetMs,
        headers: { 'Retry-After': resetSeconds(limit.resetMs) },
      });
    }
    next();
  };
  const needJson = (req: Request, _res: Response, next: NextFunction) =>
    next(req.is('application/json') ? undefined : new ApiError(415, 'unsupported_media_type', 'Send the body as application/json.'));
  const id = (req: Request) => {
    const value = req.params.id;
    if (typeof value !== 'string' || !UUID.test(value)) throw notFound();
    return value;
  };
  const account = (req: Authed) => req.consoleSession!.accountId;

  router.use(['/devices', '/api-keys'], signedIn);

  router.get('/devices', async (req: Authed, res) => {
    const q = parse(listQuery, req.query, 'query');
    const { rows, total } = await devices.list(account(req), q.limit, (q.page - 1) * q.limit);
    res.json(envelope(rows.map(sessionView), total, q.page, q.limit));
  });
  // Sign out everywhere: every device token, and every console session but this browser's.
  router.delete('/devices', change, async (req: Authed, res) => {
    const session = req.consoleSession!;
    const revoked = await devices.signOutAll(session.accountId, originOf(req));
    const browsers = await sessions.revokeOthers(session);
    if (browsers > 0) s.audit('console.sessions_revoked', { subject: session.accountId, count: browsers, reason: 'signed_out_everywhere', ...originOf(req) });
    res.json({ revoked, browsers_signed_out: browsers });
  });
  router.delete('/devices/:id', change, async (req: Authed, res) => {
    if (!(await devices.signOut(account(req), id(req), originOf(req)))) throw notFound('Device');
    res.status(204).end();
  });

  router.get('/api-keys', async (req: Authed, res) => {
    const q = parse(listQuery, req.query, 'query');
    const { rows, total } = await apiKeys.list(account(req), q.limit, (q.page - 1) * q.limit);
    res.json(envelope(rows.map(apiKeyView), total, q.page, q.limit));
  });
  router.post('/api-keys', change, needJson, json, async (req: Authed, res) => {
    const body = parse(newKey, req.body, 'body');
    res.status(201).json(await apiKeys.create(account(req), { name: body.name, scopes: body.scopes, expiresInDays: body.expires_in_days ?? null }, originOf(req)));
  });
  router.delete('/api-keys/:id', change, async (req: Authed, res) => {
    if (!(await apiKeys.revoke(account(req), id(req), originOf(req)))) throw notFound('API key');
    res.status(204).end();
  });
}
