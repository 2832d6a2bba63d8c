import { createServer } from 'node:http';
import { type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser.ts';
import { poll, startFlow } from '../helpers/device.ts';
import { createAccount, type TestAccount } from '../helpers/fixtures.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { listenLocal } from '../helpers/listen.ts';

let server: TestServer;
let account: TestAccount;
let browser: Browser;
beforeAll(async () => {
  server = await startServer();
  account = await createAccount(server.db);
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('the /device page in a real browser', () => {
  it('when the user follows verification_uri_complete, signs in and approves, then the client gets a token that works on /me', async () => {
    const flow = await startFlow(server, { device_label: 'e2e laptop' });
    const page = await (await browser.newContext()).newPage();
    await page.goto(flow.verification_uri_complete);
    expect(new URL(page.url()).pathname).toBe('/signin');
    // The code is kept by the page's script, not shown in the address bar.
    expect(page.url()).not.toContain(flow.user_code);
    await page.getByLabel('Email').fill(account.email);
    await page.getByLabel('Password').fill(account.password);
    await page.getByRole('button', { name: 'Sign in' }).click();

    await page.getByRole('button', { name: 'Approve' }).waitFor();
    expect(page.url()).toBe(`${server.url}/device`);
    expect(await page.locator('#code').textContent()).toBe(flow.user_code);
    expect(await page.locator('#client').textContent()).toBe('tessera-cli');
    expect(await page.locator('#device-label').textContent()).toBe('e2e laptop');
    expect(await page.locator('#time-left').textContent()).toMatch(/^1[45]:\d\d$/);

    await page.getByRole('button', { name: 'Approve' }).click();
    await expect.poll(() => page.locator('#result').textContent()).toBe('Device approved. You can return to your terminal.');
    const tokenRes = await poll(server, flow.device_code);
    expect(tokenRes.status).toBe(200);
    const { access_token } = await tokenRes.json();
    const me = await fetch(`${server.url}/openapi/v1/me`, { headers: { Authorization: `Bearer ${access_token}` } });
    expect(me.status).toBe(200);
    expect((await me.json()).email).toBe(account.email);
    await page.context().close();
  });

  it('when the user types the code on /device and denies, then the client gets access_denied', async () => {
    const flow = await startFlow(server);
    const page = await (await browser.newContext()).newPage();
    await page.goto(flow.verification_uri);
    await page.getByLabel('Email').fill(account.email);
    await page.getByLabel('Password').fill(account.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('Enter the code shown in your terminal').fill(flow.user_code.toLowerCase().replace('-', ' '));
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: 'Deny' }).click();
    await expect.poll(() => page.locator('#result').textContent()).toBe('Request denied. You can return to your terminal.');
    expect(page.url()).toBe(`${server.url}/device`);
    const res = await poll(server, flow.device_code);
    expect(res.status).toBe(400);
    expect((await res.json()).error).toBe('access_denied');
    await page.context().close();
  });

  it('when another origin frames /signin or /device, then the browser refuses to render them', async () => {
    // A real page on another loopback origin (a routed fake host would be blocked for other reasons).
    const framer = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<iframe src="${server.url}/signin"></iframe><iframe src="${server.url}/device"></iframe>`);
    });
    const framing = await listenLocal(framer);
    const page = await (await browser.newContext()).newPage();
    try {
      await page.goto(`${framing.url}/`);
      await expect.poll(() => page.frames().length).toBe(3);
      await page.waitForLoadState('load');
      for (const frame of page.frames().slice(1)) {
        expect(frame.url()).not.toContain(server.url);
        expect(await frame.locator('input').count()).toBe(0);
      }
    } finally {
      await page.context().close();
      await framing.close();
    }
  });
});
