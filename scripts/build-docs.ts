// `npm run docs`: builds the offline API docs (generated/docs.html) from openapi.yaml.
import { buildDocs, DOCS_FILE } from '../src/server/docs-build.ts';

const out = process.argv[2] ?? DOCS_FILE;
await buildDocs(out);
process.stderr.write(`API docs written to ${out}\n`);
