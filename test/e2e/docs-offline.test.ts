import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDocs } from '../../src/server/docs-build.ts';
import { mountDocs } from '../../src/server/docs.ts';
import { launchChromium } from '../helpers/browser.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

// The docs are built exactly as `npm run docs` builds them, into a temp path, then read
// (markup that would fetch something) and opened in Chromium (everything the page asks for
// while it renders, navigates and searches). Nothing may leave this machine.

let dir: string;
let html: string;
let docsUrl: string;
let listener: ReturnType<express.Express['listen']>;
let browser: Browser;
let server: TestServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-docs-test-'));
  const file = join(dir, 'docs.html');
  await buildDocs(file);
  html = await readFile(file, 'utf8');
  // The real /docs routes, serving the page just built.
  const app = express();
  const router = express.Router();
  mountDocs(router, file);
  app.use(router);
  listener = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => listener.once('listening', resolve));
  docsUrl = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
  browser = await launchChromium();
  server = await startServer();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  listener?.close();
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const external = (url: string) => /^(https?:)?\/\//i.test(url.trim()) && !url.startsWith(docsUrl);

/** URLs the markup itself would fetch (not plain hyperlinks): outside the inline scripts. */
function fetchedByMarkup(page: string): string[] {
  const markup = page.replace(/<script\b[^>]*>[\s\S]*?<\/script>/gi, (tag) => tag.slice(0, tag.indexOf('>') + 1));
  const found: string[] = [];
  for (const m of markup.matchAll(/<(?!a\b)(\w+)\b[^>]*>/gi)) {
    for (const a of m[0].matchAll(/\s(src|href|srcset|poster|data|action|formaction|background|content)\s*=\s*("([^"]*)"|'([^']*)')/gi)) {
      const value = a[3] ?? a[4] ?? '';
      const candidates = a[1]!.toLowerCase() === 'srcset' ? value.split(',').map((c) => c.trim().split(/\s+/)[0] ?? '') : [value];
      // A meta refresh and a policy name URLs inside their content.
      if (a[1]!.toLowerCase() === 'content') candidates.splice(0, 1, ...(value.match(/(https?:)?\/\/[^\s;'"]+/gi) ?? []));
      found.push(...candidates.filter(external));
    }
  }
  for (const m of markup.matchAll(/url\(\s*['"]?([^'")]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]/gi)) {
    const url = m[1] ?? m[2] ?? '';
    if (external(url)) found.push(url);
  }
  return found;
}

/** Opens a page and records every request it makes and every URL its policy had to block. */
async function visit(path: string, act: (page: Page) => Promise<void> = async () => undefined) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { blocked: string[] }).blocked = seen;
    document.addEventListener('securitypolicyviolation', (e) => seen.push(e.blockedURI));
  });
  const response = await page.goto(`${docsUrl}${path}`, { waitUntil: 'load' });
  await act(page);
  // Whatever the page starts in the background has time to show up.
  await page.waitForLoadState('networkidle');
  const blocked = await page.evaluate(() => (window as unknown as { blocked: string[] }).blocked);
  const text = await page.evaluate(() => document.body.innerText);
  await context.close();
  return { response: response!, requests, blocked, text };
}

describe('the offline API docs', () => {
  it('when the docs are built, then the markup fetches nothing from another origin, telemetry is off, and the page carries its own policy', () => {
    expect(fetchedByMarkup(html)).toEqual([]);
    expect(html).not.toContain('cdn.redoc.ly');
    expect(html).toContain('"disableTelemetry":true');
    const policy = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1];
    expect(policy).toMatch(/default-src 'none'; script-src 'sha256-/);
    expect(policy).not.toMatch(/https?:|\*/);
  });

  it('when the page is opened, navigated and searched in a browser, then it requests nothing from another origin', async () => {
    const { response, requests, blocked, text } = await visit('/docs', async (page) => {
      await page.getByText('Runs', { exact: true }).first().click();
      await page.getByText('Stream a chat message').first().click();
      await page.getByText('data: {"event":"message"').first().waitFor();
      await page.getByText('Search', { exact: false }).first().click();
      await page.getByPlaceholder('Search docs...').fill('workflow');
      await page.getByText('response 200 fields').first().waitFor();
    });
    expect(response.status()).toBe(200);
    expect(response.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(requests.filter(external)).toEqual([]);
    // The search index probes for eval to pick a worker; the policy refuses it and search runs in the page.
    expect(blocked.filter((uri) => uri !== 'eval')).toEqual([]);
    expect(requests.every((url) => url.startsWith(docsUrl) || url.startsWith('data:'))).toBe(true);
    expect(text).toContain('Tessera API');
  }, 60_000);

  it('when a stream example is shown, then it is what the server sends: one data line of JSON per event, no event: field', async () => {
    const { text } = await visit('/docs', async (page) => {
      await page.getByText('Runs', { exact: true }).first().click();
      await page.getByText('Stream a workflow run').first().click();
      await page.getByText('data: {"event":"workflow_started"').first().waitFor();
    });
    const stream = text.slice(text.indexOf('data: {"event":"workflow_started"'));
    expect(stream).toMatch(/^data: \{"event":"workflow_started".*\}\n\ndata: \{"event":"node_started"/s);
    expect(text).not.toMatch(/^event: /m);
  }, 60_000);

  it('when the device login guide linked from the docs is opened, then it renders the guide and requests nothing from another origin', async () => {
    expect(html).toContain('/docs/device-flow');
    const { response, requests, blocked, text } = await visit('/docs/device-flow');
    expect(response.status()).toBe(200);
    expect(text).toContain('Device login (RFC 8628)');
    expect(text).toContain('POST /openapi/v1/oauth/token');
    expect(requests.filter(external)).toEqual([]);
    expect(blocked).toEqual([]);
  }, 60_000);
});

describe('the docs routes of the app', () => {
  it('when /docs and /docs/device-flow are fetched, then they refuse framing and caching and allow nothing from another origin', async () => {
    for (const path of ['/docs', '/docs/device-flow']) {
      const res = await fetch(`${server.url}${path}`);
      const policy = res.headers.get('content-security-policy') ?? '';
      expect([200, 503], path).toContain(res.status);
      expect(policy, path).toMatch(/^default-src 'none'/);
      expect(policy, path).toContain("frame-ancestors 'none'");
      expect(policy, path).not.toMatch(/https?:|\*/);
      expect(res.headers.get('x-frame-options'), path).toBe('DENY');
      expect(res.headers.get('cache-control'), path).toBe('no-store');
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
    }
    const guide = await (await fetch(`${server.url}/docs/device-flow`)).text();
    expect(guide).toContain('<h1>Device login (RFC 8628)</h1>');
    expect(guide).not.toMatch(/<script|<link/i);
  });
});
