import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DOCS_FILE = `${ROOT}generated/docs.html`;
const SPEC = `${ROOT}openapi.yaml`;
const REDOCLY = `${ROOT}node_modules/.bin/redocly`;

/**
 * The offline HTML docs are a build product (`npm run docs`), not committed; a
 * starting server (re)builds them in the background when missing or stale.
 */
export function ensureDocs(log: Logger): void {
  const fresh = existsSync(DOCS_FILE) && statSync(DOCS_FILE).mtimeMs >= statSync(SPEC).mtimeMs;
  if (fresh || !existsSync(REDOCLY)) return;
  const child = spawn(REDOCLY, ['build-docs', SPEC, '--inlineBundle', '-o', DOCS_FILE], { cwd: ROOT, stdio: 'ignore' });
  child.on('exit', (code) => (code === 0 ? log.info('API docs built') : log.warn({ code }, 'API docs build failed; run `npm run docs`')));
  child.on('error', () => log.warn('API docs build could not start; run `npm run docs`'));
}
