import { type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser.ts';
import { createAccount, type TestAccount } from '../helpers/fixtures.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

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

describe('the /signin page script', () => {
  // The server renders only normalised same-origin paths; these are what a tampered page
  // could carry. The script must normalise them the way the server does and stay home.
  it.each(['/..//evil.example', '/%2e%2e//evil.example', '/a/..//evil.example', '/.//evil.example'])(
    'when data-next is %j, then after sign-in the browser goes to /device on this origin',
    async (hostile) => {
      const context = await browser.newContext();
      const page = await context.newPage();
      try {
        await page.route('**/signin', async (route) => {
          const response = await route.fetch();
          const html = (await response.text()).replace(/data-next="[^"]*"/, `data-next="${hostile.replace(/"/g, '&quot;')}"`);
          await route.fulfill({ response, body: html });
        });
        await page.goto(`${server.url}/signin`);
        expect(await page.locator('#signin').getAttribute('data-next')).toBe(hostile);
        await page.getByLabel('Email').fill(account.email);
        await page.getByLabel('Password').fill(account.password);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.waitForURL((url) => url.pathname !== '/signin');
        expect(page.url()).toBe(`${server.url}/device`);
      } finally {
        await context.close();
      }
    },
  );
});
