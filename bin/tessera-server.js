#!/usr/bin/env node
// The build (`npm run build` → dist/) when there is one: plain JavaScript, no loader,
// so this process is the server and receives SIGTERM itself. Otherwise the
// TypeScript sources through tsx, for a checkout that was never built.
import { existsSync } from 'node:fs';
import { URL } from 'node:url';

const built = new URL('../dist/src/main.js', import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
