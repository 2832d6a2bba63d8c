import { readFileSync } from 'node:fs';
import type { Request, Response, Router } from 'express';
import { Liquid } from 'liquidjs';
import { deviceFlowFor } from '../device-flow/device-flow-service.ts';
import { routeManifestFor } from '../http/route-manifest.ts';
import type { Services } from '../services.ts';
import { pageErrorsFor } from './page-errors.ts';
import { consoleSessionsFor } from './session.ts';

const TEMPLATES = new URL('./templates/', import.meta.url).pathname;
const ASSETS = new URL('./assets/', import.meta.url);

/**
 * Only a path on this origin is a valid return address (no open redirect).
 * Browsers drop tabs and newlines while parsing, so `/\t/evil.example` would
 * become `//evil.example`: any whitespace or control character is refused. What
 * is checked is what is returned: the value normalised by the URL parser (which
 * resolves `/..//evil.example` to `//evil.example`) must itself be a path on this
 * origin, and never start with `//` or `/\`, which browsers read as another host.
 */
export function safeNext(value: unknown): string {
  const fallback = '/device';
  if (typeof value !== 'string' || value.length > 200 || !value.startsWith('/')) return fallback;
  for (const c of value) if (c <= ' ' || c === '\x7f' || c === '\\') return fallback;
  const base = 'http://tessera.invalid';
  const url = new URL(value, base);
  const next = url.pathname + url.search;
  if (url.origin !== base || !/^\/(?![/\\])/.test(next)) return fallback;
  return new URL(next, base).origin === base ? next : fallback;
}

const INVALID_CODE = 'That code is not valid. It may have expired or been used already. Check the code in your terminal and try again.';

// Same-origin scripts and styles only; nothing may frame these pages (DESIGN §9).
export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

function loadAssets(): Map<string, { type: string; body: Buffer }> {
  const types: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };
  const out = new Map<string, { type: string; body: Buffer }>();
  for (const name of ['console.css', 'signin.js', 'device.js']) {
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
  const router = routeManifestFor(s).router('page', { base: '', owns: 'routes', head: true });

  // Every answer of these pages (redirects and errors too) refuses framing and caching.
  router.use(['/signin', '/device'], (_req, res, next) => {
    res.set({ 'Content-Security-Policy': CSP, 'X-Frame-Options': 'DENY', 'Cache-Control': 'no-store' });
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
    if (!session) return res.redirect(303, `/signin?next=${encodeURIComponent(req.originalUrl)}`);
    const account = await s.accounts.findById(session.accountId);
    if (!account) {
      // A valid cookie for an account that is gone: drop it, or /signin and /device would bounce forever.
      await sessions.revoke(res, session);
      return res.redirect(303, '/signin?next=/device');
    }
    const base = { title: 'Connect a device', script: 'device.js', email: account.email, csrf_token: sessions.csrfToken(session) };
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
    await render(res, 200, 'device', { ...base, confirm: { ...found, minutes_left: minutesLeft } });
  });

  router.use(pageErrorsFor(s).handler);
  return router;
}
