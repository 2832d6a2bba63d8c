import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

// Two levels up from this module: the project root (or dist/ in a build, which carries its own copies).
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SPEC_FILE = `${ROOT}openapi.yaml`;
/** The offline HTML docs, a build product (`npm run docs`), not committed. */
export const DOCS_FILE = `${ROOT}generated/docs.html`;
const CONFIG_FILE = `${ROOT}redocly.yaml`;

/** Whether the built docs exist and are not older than the spec. */
export const docsFresh = (): boolean => existsSync(DOCS_FILE) && statSync(DOCS_FILE).mtimeMs >= statSync(SPEC_FILE).mtimeMs;

/** The redocly CLI when installed (a dev dependency: production installs may not have it). */
export function redoclyCli(): string | null {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('@redocly/cli/package.json')), 'bin/cli.js');
  } catch {
    return null;
  }
}

/**
 * The Redoc page's only external asset is the "API docs by Redocly" mark in its sidebar,
 * which it loads from a CDN whatever the options say. It becomes an inline image.
 */
const REDOCLY_MARK = `data:image/svg+xml,${encodeURIComponent(
  '<svg xmlns="http://www.w3.org/2000/svg" width="60" height="16" viewBox="0 0 60 16"><text x="0" y="12" font-family="sans-serif" font-size="12" fill="currentColor">Redocly</text></svg>',
)}`;
const EXTERNAL_ASSETS: Record<string, string> = {
  'https://cdn.redoc.ly/redoc/logo-mini-full.svg': REDOCLY_MARK,
  'https://cdn.redoc.ly/redoc/logo-mini.svg': REDOCLY_MARK,
};

type Json = Record<string, unknown>;

/**
 * Redoc renders an object example of a `text/event-stream` response as `event:` and
 * `data:` fields, which is not what Tessera sends. The spec keeps each event as an
 * object (so lint checks it against the schema); the docs show the stream as it is on
 * the wire: one `data:` line of JSON per event.
 */
function wireExamples(spec: Json): Json {
  const copy = structuredClone(spec);
  const components = (copy.components ?? {}) as { examples?: Record<string, { value?: unknown }> };
  const resolve = (e: { $ref?: string; value?: unknown }) =>
    e.$ref?.startsWith('#/components/examples/') ? components.examples?.[e.$ref.split('/').pop()!] : e;
  for (const item of Object.values((copy.paths ?? {}) as Record<string, Record<string, Json>>)) {
    for (const op of Object.values(item)) {
      for (const response of Object.values((op.responses ?? {}) as Record<string, Json>)) {
        const media = (response.content as Record<string, Json> | undefined)?.['text/event-stream'];
        if (!media) continue;
        const events = media.example !== undefined ? [media.example] : Object.values((media.examples ?? {}) as Record<string, Json>).map((e) => resolve(e)?.value);
        delete media.example;
        media.examples = {
          stream: {
            summary: 'The stream as sent: one data line of JSON per event',
            value: events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join(''),
          },
        };
      }
    }
  }
  return copy;
}

/** The hashes of the page's inline scripts, for a policy that allows exactly those. */
function inlineScriptHashes(html: string): string[] {
  const hashes: string[] = [];
  for (const m of html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/gi)) {
    if (/\bsrc\s*=/.test(m[0].slice(0, m[0].indexOf('>')))) continue;
    hashes.push(`'sha256-${createHash('sha256').update(m[1]!, 'utf8').digest('base64')}'`);
  }
  return hashes;
}

/**
 * What the docs page may load: its own inline scripts (by hash), inline styles (Redoc
 * injects them at run time), inline images and fonts, requests to this origin only.
 * Nothing from anywhere else, so the page contacts nothing even if a future Redoc tries.
 */
export function docsPolicy(html: string): string {
  return [
    "default-src 'none'",
    `script-src ${inlineScriptHashes(html).join(' ')}`,
    "style-src 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

function run(args: string[], cwd: string): Promise<void> {
  const cli = redoclyCli();
  if (!cli) return Promise.reject(new Error('@redocly/cli is not installed'));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd,
      stdio: ['ignore', 'ignore', 'pipe'],
      // Off in redocly.yaml too; the variable also covers a build without that file (dist/).
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
    });
    // A server that stops while it builds takes the build with it: no process outlives the server.
    const stop = () => child.kill();
    process.once('exit', stop);
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', () => process.off('exit', stop));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`redocly build-docs exited ${code}: ${err.trim().split('\n').slice(-5).join('\n')}`))));
  });
}

/**
 * Builds the offline HTML docs from openapi.yaml into `out`: Redoc with its bundle inlined,
 * telemetry off, stream examples as sent, no external asset, and a Content-Security-Policy
 * in the page itself so that even a copy opened from disk fetches nothing.
 */
export async function buildDocs(out: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-docs-'));
  try {
    const spec = parse(await readFile(SPEC_FILE, 'utf8')) as Json;
    const input = join(dir, 'openapi.yaml');
    await writeFile(input, stringify(wireExamples(spec)));
    const raw = join(dir, 'docs.html');
    const config = existsSync(CONFIG_FILE) ? ['--config', CONFIG_FILE] : [];
    await run(['build-docs', input, ...config, '--inlineBundle', '-o', raw], ROOT);
    let html = await readFile(raw, 'utf8');
    for (const [url, inline] of Object.entries(EXTERNAL_ASSETS)) html = html.split(url).join(inline);
    const meta = `<meta http-equiv="Content-Security-Policy" content="${docsPolicy(html)}">`;
    const head = /<meta charset="[^"]*" ?\/?>|<head>/i;
    if (!head.test(html)) throw new Error('the built docs page has no <head> to hold its Content-Security-Policy');
    html = html.replace(head, (tag) => `${tag}\n  ${meta}`);
    await writeFile(out, html);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
