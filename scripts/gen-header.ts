// Prepends the do-not-edit header to generated/openapi.ts (openapi-typescript writes the body).
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../generated/openapi.ts', import.meta.url);
const HEADER = '// Generated from openapi.yaml by `npm run gen` (openapi-typescript). Do not edit by hand.\n';
const body = readFileSync(file, 'utf8');
if (!body.startsWith(HEADER)) writeFileSync(file, HEADER + body);
