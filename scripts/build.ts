// `npm run build`, after tsc: the files the server reads next to its own modules
// (templates, page assets, migrations, the spec, package.json for the version, the
// device login guide served at /docs/device-flow) and the offline API docs, so dist/
// runs with plain `node` and no TypeScript loader.
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { buildDocs, DOCS_FILE, docsFresh } from '../src/server/docs-build.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const DIST = path.join(ROOT, 'dist');

for (const dir of ['src/console/templates', 'src/console/assets', 'src/storage/migrations']) {
  rmSync(path.join(DIST, dir), { recursive: true, force: true });
  cpSync(path.join(ROOT, dir), path.join(DIST, dir), { recursive: true });
}
for (const file of ['package.json', 'openapi.yaml', 'docs/device-flow.md']) {
  mkdirSync(path.dirname(path.join(DIST, file)), { recursive: true });
  cpSync(path.join(ROOT, file), path.join(DIST, file));
}

const built = path.join(DIST, 'generated/docs.html');
mkdirSync(path.dirname(built), { recursive: true });
if (docsFresh()) cpSync(DOCS_FILE, built);
// The same offline build as `npm run docs` (no telemetry, no external asset, wire-format stream examples).
else await buildDocs(built);
console.log('built dist/ (start it with: node dist/src/main.js start)');
