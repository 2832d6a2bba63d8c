// `npm run build`, after tsc: the files the server reads next to its own modules
// (templates, page assets, migrations, the spec, package.json for the version) and
// the offline API docs, so dist/ runs with plain `node` and no TypeScript loader.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const DIST = path.join(ROOT, 'dist');

for (const dir of ['src/console/templates', 'src/console/assets', 'src/storage/migrations']) {
  rmSync(path.join(DIST, dir), { recursive: true, force: true });
  cpSync(path.join(ROOT, dir), path.join(DIST, dir), { recursive: true });
}
for (const file of ['package.json', 'openapi.yaml']) cpSync(path.join(ROOT, file), path.join(DIST, file));

const docs = path.join(ROOT, 'generated/docs.html');
const built = path.join(DIST, 'generated/docs.html');
mkdirSync(path.dirname(built), { recursive: true });
if (existsSync(docs) && statSync(docs).mtimeMs >= statSync(path.join(ROOT, 'openapi.yaml')).mtimeMs) cpSync(docs, built);
else execFileSync(path.join(ROOT, 'node_modules/.bin/redocly'), ['build-docs', 'openapi.yaml', '--inlineBundle', '-o', built], { cwd: ROOT, stdio: 'ignore' });
console.log('built dist/ (start it with: node dist/src/main.js start)');
