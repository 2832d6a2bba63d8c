import { readFileSync } from 'node:fs';
import type { Request, RequestHandler, Response, Router } from 'express';
import { Liquid } from 'liquidjs';
import { deviceFlowFor } from '../device-flow/device-flow-service.ts';
import { userCodeProblem } from '../device-flow/user-code.ts';
import { routeManifestFor } from '../http/route-manifest.ts';
import { apiKeysFor, apiKeyView } from '../identity/api-keys.ts';
import { deviceSessionsFor, sessionView } from '../identity/device-sessions.ts';
import type { Services } from '../services.ts';
import { VERSION } from '../version.ts';
import { pageErrorsFor } from './page-errors.ts';
import { consoleSessionsFor, type ConsoleSession } from './session.ts';

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

/** What the page says about a code that cannot be one, before any lookup (nothing to guess, so no limit is spent). */
function codeMessage(code: string): string | null {
  const problem = code.length > 64 ? { kind: 'length' as const, length: code.length } : userCodeProblem(code);
  if (!problem) return null;
  if (problem.kind === 'characters') return 'Codes contain only consonants (no vowels, digits or symbols). Check the code in your terminal and try again.';
  return `A code has 8 letters, like BCDF-GHJK; you entered ${problem.length}. Check the code in your terminal and try again.`;
}

// Same-origin scripts, styles and images only; nothing may frame these pages.
export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
/** The headers of every page answer (redirects and errors too): no framing, no caching. */
export const PAGE_HEADERS = { 'Content-Security-Policy': CSP, 'X-Frame-Options': 'DENY', 'Cache-Control': 'no-store' };
export const TEMPLATES_DIR = TEMPLATES;

/**
 * PAGE_HEADERS on whatever a page router answers, set before its routes and its front check.
 * Never by comparing `req.path`: express matches routes in any case and with a trailing slash,
 * so `/Device/` renders the device page too and must refuse framing as well.
 */
export const pageHeaders: RequestHandler = (_req, res, next) => {
  res.set(PAGE_HEADERS);
  next();
};

const ASSET_FILES = ['console.css', 'console.js', 'signin.js', 'device.js', 'device-sso.js', 'account.js', 'favicon.svg'];
const TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', svg: 'image/svg+xml' };

function loadAssets(): Map<string, { type: string; body: Buffer }> {
  const out = new Map<string, { type: string; body: Buffer }>();
  for (const name of ASSET_FILES) out.set(name, { type: TYPES[name.split('.').pop()!]!, body: readFileSync(new URL(name, ASSETS)) });
  return out;
}

/** `2026-05-01 14:03 UTC` for a Date or an ISO string; the page's script shows it in the reader's zone. */
function when(value: unknown): string {
  const d = value instanceof Date ? value : new Date(String(value));
  return Number.isNaN(d.getTime()) ? '' : `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** GET /, /signin, /device and /account: server-rendered, same-origin assets only, HTML errors. */
export function pages(s: Services): Router {
  const liquid = new Liquid({ root: TEMPLATES, extname: '.liquid', outputEscape: 'escape', cache: true });
  liquid.registerFilter('when', when);
  const sessions = consoleSessionsFor(s);
  const flow = deviceFlowFor(s);
  const devices = deviceSessionsFor(s);
  const apiKeys = apiKeysFor(s);
  const assets = loadAssets();
  // Every answer of these pages (redirects and errors too) refuses framing and caching; assets set their own caching.
  const router = routeManifestFor(s).router('page', { base: '', owns: 'routes', head: true, front: [pageHeaders] });
  const render = async (res: Response, status: number, view: string, vars: Record<string, unknown>) => {
    res.status(status).type('html').send(await liquid.renderFile(view, { version: VERSION, ...vars }));
  };
  /** The signed-in account, or null; a valid cookie for an account that is gone is dropped. */
  const signedIn = async (req: Request, res: Response): Promise<{ session: ConsoleSession; account: { id: string; email: string; name: string } } | null> => {
    const session = await sessions.read(req);
    if (!session) return null;
    const account = await s.accounts.findById(session.accountId);
    if (account) return { session, account };
    // Otherwise /signin and the page would bounce forever.
    await sessions.revoke(res, session);
    return null;
  };

  router.get('/assets/:name', (req, res, next) => {
    const asset = assets.get(req.params.name);
    if (!asset) return next();
    res.set({ 'Content-Type': asset.type, 'Cache-Control': 'public, max-age=300' }).send(asset.body);
  });
  router.get('/favicon.ico', (_req, res) => res.redirect(301, '/assets/favicon.svg'));

  router.get('/', async (req, res) => {
    const who = await signedIn(req, res);
    await render(res, 200, 'home', {
      title: 'Home',
      wide: true,
      public_url: s.config.publicUrl,
      ...(who ? { email: who.account.email, name: who.account.name, csrf_token: sessions.csrfToken(who.session) } : {}),
    });
  });

  router.get('/account', async (req, res) => {
    const who = await signedIn(req, res);
    if (!who) return res.redirect(303, '/signin?next=/account');
    const [d, k] = await Promise.all([devices.list(who.account.id, 100, 0), apiKeys.list(who.account.id, 100, 0)]);
    await render(res, 200, 'account', {
      title: 'Your account',
      page: 'account',
      script: 'account.js',
      wide: true,
      email: who.account.email,
      name: who.account.name,
      csrf_token: sessions.csrfToken(who.session),
      devices: d.rows.map(sessionView),
      devices_total: d.total,
      api_keys: k.rows.map(apiKeyView),
      api_keys_total: k.total,
    });
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
    const base = { title: 'Connect a device', page: 'device', script: 'device.js', email: account?.email, csrf_token: session ? sessions.csrfToken(session) : undefined, sso };
    const code = req.query.user_code;
    if (typeof code !== 'string' || code.trim() === '') return render(res, 200, 'device', base);
    // A wrong code stays in the box, so the user can see the typo.
    const typed = [...code].slice(0, 20).join('');
    const malformed = codeMessage(code);
    if (malformed) return render(res, 200, 'device', { ...base, typed, message: malformed });
    const limit = await flow.hitLookupLimit(req.ip);
    if (!limit.allowed) {
      res.set('Retry-After', String(limit.retryAfterSeconds));
      const minutes = Math.max(1, Math.ceil(limit.retryAfterSeconds / 60));
      const message = `Too many attempts from your network. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`;
      return render(res, 429, 'device', { ...base, typed, message });
    }
    const found = await flow.lookup(code);
    if (!found.valid) return render(res, 200, 'device', { ...base, typed, message: INVALID_CODE });
    const minutesLeft = Math.max(1, Math.ceil((found.expires_in_remaining ?? 0) / 60));
    if (!account) return render(res, 200, 'device', { ...base, chooser: { ...found, next: `/device?user_code=${found.user_code}` } });
    await render(res, 200, 'device', { ...base, confirm: { ...found, minutes_left: minutesLeft } });
  });

  router.use(pageErrorsFor(s).handler);
  return router;
}
