import { readFileSync } from 'node:fs';
import express, { type ErrorRequestHandler, type Request, type Response, type Router } from 'express';
import { Liquid } from 'liquidjs';
import { deviceFlowFor } from '../device-flow/device-flow-service.ts';
import type { Services } from '../services.ts';
import { consoleSessionsFor } from './session.ts';

const TEMPLATES = new URL('./templates/', import.meta.url).pathname;
const ASSETS = new URL('./assets/', import.meta.url);

/**
 * Only a path on this origin is a valid return address (no open redirect).
 * Browsers drop tabs and newlines while parsing, so `/\t/evil.example` would
 * become `//evil.example`: any whitespace or control character is refused, and
 * the result must still resolve to this origin.
 */
export function safeNext(value: unknown): string {
  if (typeof value !== 'string' || value.length > 200 || !value.startsWith('/')) return '/device';
  for (const c of value) if (c <= ' ' || c === '\x7f' || c === '\\') return '/device';
  const base = 'http://tessera.invalid';
  const url = new URL(value, base);
  return url.origin === base && !value.startsWith('//') ? url.pathname + url.search : '/device';
}

const INVALID_CODE = 'That code is not valid. It may have expired or been used already. Check the code in your terminal and try again.';

// Same-origin scripts and styles only; nothing may frame these pages (DESIGN §9).
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
/** The headers of every page answer (redirects and errors too): no framing, no caching. */
export const PAGE_HEADERS = { 'Content-Security-Policy': CSP, 'X-Frame-Options': 'DENY', 'Cache-Control': 'no-store' };
export const TEMPLATES_DIR = TEMPLATES;

function loadAssets(): Map<string, { type: string; body: Buffer }> {
  const types: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };
  const out = new Map<string, { type: string; body: Buffer }>();
  for (const name of ['console.css', 'signin.js', 'device.js', 'device-sso.js']) {
    out.set(name, { type: types[name.split('.').pop()!]!, body: readFileSync(new URL(name, ASSETS)) });
  }
  return out;
}

/** GET /signin and GET /device: server-rendered, no external assets, HTML errors. */
export function pages(s: Services): Router {
  const liquid = new Liquid({ root: TEMPLATES, extname: '.liquid', outputEscape: 'escape', cache: true });
  const sessions = consoleSessionsFor(s);
  const flow = deviceFlowFor(s);
  const assets = loadAssets();
  const router = express.Router();

  // Every answer of these pages (redirects and errors too) refuses framing and caching.
  router.use(['/signin', '/device'], (_req, res, next) => {
    res.set(PAGE_HEADERS);
    next();
  });
  const render = async (res: Response, status: number, view: string, vars: Record<string, unknown>) => {
    res.status(status).type('html').send(await liquid.renderFile(view, vars));
  };

  router.get('/assets/:name', (req, res, next) => {
    const asset = assets.get(req.params.name);
    if (!asset) return next();
    res.set({ 'Content-Type': asset.type, 'Cache-Control': 'public, max-age=300' }).send(asset.body);
  });

  router.get('/signin', async (req, res) => {
    const next = safeNext(req.query.next);
    if (await sessions.read(req)) return res.redirect(303, next);
    await render(res, 200, 'signin', { title: 'Sign in', script: 'signin.js', next });
  });

  router.get('/device', async (req: Request, res) => {
    const session = await sessions.read(req);
    // With single sign-on, someone without a Tessera account chooses on this page (docs/enterprise.md).
    const sso = s.sso?.pageView() ?? null;
    if (!session && !sso) return res.redirect(303, `/signin?next=${encodeURIComponent(req.originalUrl)}`);
    const account = session ? await s.accounts.findById(session.accountId) : undefined;
    if (session && !account) {
      // A valid cookie for an account that is gone: drop it, or /signin and /device would bounce forever.
      await sessions.revoke(res, session);
      return res.redirect(303, '/signin?next=/device');
    }
    const base = { title: 'Connect a device', script: 'device.js', email: account?.email, csrf_token: session ? sessions.csrfToken(session) : undefined, sso };
    const code = req.query.user_code;
    if (typeof code !== 'string' || code.trim() === '') return render(res, 200, 'device', base);
    const limit = await flow.hitLookupLimit(req.ip ?? 'unknown');
    if (!limit.allowed) {
      res.set('Retry-After', String(limit.retryAfterSeconds));
      return render(res, 429, 'device', { ...base, message: 'Too many attempts from your network. Wait a few minutes and try again.' });
    }
    const found = code.length <= 20 ? await flow.lookup(code) : { valid: false as const };
    if (!found.valid) return render(res, 200, 'device', { ...base, message: INVALID_CODE });
    const minutesLeft = Math.max(1, Math.ceil((found.expires_in_remaining ?? 0) / 60));
    if (!account) return render(res, 200, 'device', { ...base, chooser: { ...found, next: `/device?user_code=${found.user_code}` } });
    await render(res, 200, 'device', { ...base, confirm: { ...found, minutes_left: minutesLeft } });
  });

  const onError: ErrorRequestHandler = (err, req, res, next) => {
    if (res.headersSent) return next(err);
    s.log.error({ err, request_id: req.id }, 'error on a console page');
    const message = 'Tessera is having trouble right now. Please try again in a moment.';
    render(res, 503, 'error', { title: 'Something went wrong', message }).catch(next);
  };
  router.use(onError);
  return router;
}
