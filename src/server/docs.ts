import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Response, Router } from 'express';
import { Marked } from 'marked';
import type { Logger } from 'pino';
import { buildDocs, DOCS_FILE, docsFresh, docsPolicy, redoclyCli } from './docs-build.ts';

const GUIDE_FILE = fileURLToPath(new URL('../../docs/device-flow.md', import.meta.url));

/**
 * The offline HTML docs are a build product (`npm run docs`), not committed; a
 * starting server (re)builds them in the background when missing or stale.
 */
export function ensureDocs(log: Logger): void {
  if (docsFresh() || !redoclyCli()) return;
  buildDocs(DOCS_FILE).then(
    () => log.info('API docs built'),
    (err: Error) => log.warn({ err: err.message }, 'API docs build failed; run `npm run docs`'),
  );
}

/** Every docs answer refuses framing and caching, like the other pages. */
function send(res: Response, status: number, type: string, body: string | Buffer, policy: string): void {
  res.set({ 'Content-Security-Policy': `${policy}; frame-ancestors 'none'`, 'X-Frame-Options': 'DENY', 'Cache-Control': 'no-store' });
  res.status(status).type(type).send(body);
}

const GUIDE_STYLE = `
body { margin: 0; font: 16px/1.6 system-ui, sans-serif; color: #1f2328; background: #fff; }
main { max-width: 46rem; margin: 0 auto; padding: 2rem 1.25rem 4rem; }
pre, code { font: 0.9em/1.5 ui-monospace, monospace; background: #f6f8fa; border-radius: 4px; }
code { padding: 0.1em 0.3em; } pre { padding: 0.8rem 1rem; overflow-x: auto; } pre code { padding: 0; }
table { border-collapse: collapse; display: block; overflow-x: auto; } th, td { border: 1px solid #d0d7de; padding: 0.3rem 0.6rem; text-align: left; }
nav { font-size: 0.9em; } a { color: #0550ae; }
`;
const escape = (s: string) => s.replace(/[&<>"]/g, (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot' }[c]};`);

let guide: { html: string; policy: string } | undefined;

/** docs/device-flow.md as one HTML page: no script, one inline style allowed by its hash. */
function guidePage(): NonNullable<typeof guide> {
  if (!guide) {
    const markdown = readFileSync(GUIDE_FILE, 'utf8');
    const title = /^# (.+)$/m.exec(markdown)?.[1] ?? 'Device login';
    const body = new Marked({ gfm: true }).parse(markdown, { async: false });
    const hash = createHash('sha256').update(GUIDE_STYLE, 'utf8').digest('base64');
    guide = {
      html: `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)} — Tessera</title>
<style>${GUIDE_STYLE}</style>
</head>
<body>
<main>
<nav><a href="/docs">API reference</a></nav>
${body}
</main>
</body>
</html>
`,
      policy: `default-src 'none'; style-src 'sha256-${hash}'; img-src 'self' data:; base-uri 'none'; form-action 'none'`,
    };
  }
  return guide;
}

/**
 * GET /docs (the Redoc page built from openapi.yaml) and GET /docs/device-flow (the device
 * login guide the spec links to). Neither loads anything from another origin.
 */
export function mountDocs(router: Router, docsFile = DOCS_FILE): void {
  let built: { mtimeMs: number; html: Buffer; policy: string } | undefined;
  // The built page and its policy (its inline scripts' hashes), read again only when the file changes.
  const docsPage = () => {
    if (!existsSync(docsFile)) return undefined;
    const { mtimeMs } = statSync(docsFile);
    if (built?.mtimeMs !== mtimeMs) {
      const html = readFileSync(docsFile);
      built = { mtimeMs, html, policy: docsPolicy(html.toString('utf8')) };
    }
    return built;
  };
  router.get('/docs', (_req, res) => {
    const page = docsPage();
    if (page) send(res, 200, 'html', page.html, page.policy);
    else send(res, 503, 'text', 'The API docs are being built (or run `npm run docs`); retry in a moment.', "default-src 'none'");
  });
  // A build must carry docs/device-flow.md next to openapi.yaml.
  const hasGuide = existsSync(GUIDE_FILE);
  router.get('/docs/device-flow', (_req, res) => {
    if (!hasGuide) return send(res, 404, 'text', 'The device login guide is not part of this build.', "default-src 'none'");
    const page = guidePage();
    send(res, 200, 'html', page.html, page.policy);
  });
}
