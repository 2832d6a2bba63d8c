import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';

// Two levels up from this module: the project root, or dist/ in a build (which carries its own copies).
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DOCS_FILE = `${ROOT}generated/docs.html`;
const SPEC = `${ROOT}openapi.yaml`;

/** The redocly CLI when installed (a dev dependency: production installs may not have it). */
function redocly(): string | null {
  try {
    const pkg = createRequire(import.meta.url).resolve('@redocly/cli/package.json');
    return path.join(path.dirname(pkg), 'bin/cli.js');
  } catch {
    return null;
  }
}

/**
 * The offline HTML docs are a build product (`npm run docs`, `npm run build`), not
 * committed; a starting server (re)builds them in the background when missing or
 * stale and redocly is installed.
 */
export function ensureDocs(log: Logger): void {
  const fresh = existsSync(DOCS_FILE) && statSync(DOCS_FILE).mtimeMs >= statSync(SPEC).mtimeMs;
  const cli = fresh ? null : redocly();
  if (!cli) return;
  const child = spawn(process.execPath, [cli, 'build-docs', SPEC, '--inlineBundle', '-o', DOCS_FILE], { cwd: ROOT, stdio: 'ignore' });
  child.on('exit', (code) => (code === 0 ? log.info('API docs built') : log.warn({ code }, 'API docs build failed; run `npm run docs`')));
  child.on('error', () => log.warn('API docs build could not start; run `npm run docs`'));
}
