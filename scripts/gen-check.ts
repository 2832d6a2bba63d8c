// Fails when generated/ is stale: regenerates into a temp dir and compares.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const out = path.join(mkdtempSync(path.join(tmpdir(), 'tessera-gen-')), 'openapi.ts');
execFileSync(path.join(root, 'node_modules/.bin/openapi-typescript'), ['openapi.yaml', '-o', out], { cwd: root, stdio: 'pipe' });
const HEADER = '// Generated from openapi.yaml by `npm run gen` (openapi-typescript). Do not edit by hand.\n';
const fresh = HEADER + readFileSync(out, 'utf8');
const committed = readFileSync(path.join(root, 'generated/openapi.ts'), 'utf8');
if (fresh !== committed) {
  console.error('generated/openapi.ts is stale: run `npm run gen` and commit the result');
  process.exit(1);
}
console.log('generated/ is up to date');
