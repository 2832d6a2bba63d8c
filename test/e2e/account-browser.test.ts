import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser.ts';
import { clientIp, startFlow } from '../helpers/device.ts';
import { createAccount, mintToken, type TestAccount } from '../helpers/fixtures.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
let browser: Browser;
beforeAll(async () => {
  // A small sign-in limit makes the lockout cheap to reach (the default is 10 per 15 minutes).
  server = await startServer({ config: { consoleSignin: { attempts: 3, attemptsPerIp: 50 } } });
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** A context of its own, from its own client address (so per-IP limits are not shared between tests). */
async function newPage(opts: { width?: number; dark?: boolean } = {}): Promise<{ page: Page; ctx: BrowserContext }> {
  const ctx = await browser.newContext({
    viewport: { width: opts.width ?? 1280, height: 800 },
    colorScheme: opts.dark ? 'dark' : 'light',
    extraHTTPHeaders: clientIp(),
  });
  return { ctx, page: await ctx.newPage() };
}

async function signIn(page: Page, account: TestAccount, next = '/account') {
  await page.goto(`${server.url}/signin?next=${encodeURIComponent(next)}`);
  await page.getByLabel('Email').fill(account.email);
  await page.getByLabel('Password').fill(account.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${server.url}${next}`);
}

const me = (token: string) => fetch(`${server.url}/openapi/v1/me`, { headers: { Authorization: `Bearer ${token}` } });

describe('the landing page in a real browser', () => {
  it('when a visitor opens /, then it says what the server is and links to device login, the account page and the docs; signed in, it names the account', async () => {
    const account = await createAccount(server.db, 'Grace Hopper');
    const { page, ctx } = await newPage();
    await page.goto(`${server.url}/`);
    expect(await page.title()).toBe('Home · Tessera');
    await expect.poll(() => page.locator('h1').textContent()).toBe('Tessera');
    expect(await page.locator('#whoami').textContent()).toContain('You are not signed in.');
    for (const name of ['Connect a device', 'Your account', 'API docs', 'OpenAPI spec']) {
      expect(await page.getByRole('link', { name: new RegExp(name) }).count()).toBeGreaterThan(0);
    }
    expect(await page.locator('link[rel="icon"]').getAttribute('href')).toBe('/assets/favicon.svg');

    await page.locator('#whoami').getByRole('link', { name: 'Sign in' }).click();
    await page.getByLabel('Email').fill(account.email);
    await page.getByLabel('Password').fill(account.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${server.url}/account`);
    await page.goto(`${server.url}/`);
    expect(await page.locator('#whoami').textContent()).toContain(`Signed in as ${account.email} (Grace Hopper)`);
    await page.locator('#whoami').getByRole('button', { name: 'Sign out' }).click();
    await expect.poll(async () => page.locator('#whoami').textContent()).toContain('You are not signed in.');
    await ctx.close();
  });
});

describe('the account page in a real browser', () => {
  it('when the user signs a lost device out, then that token gets 401 on /me and the other device keeps working; signing out everywhere ends the other devices and browsers but not this one', async () => {
    const account = await createAccount(server.db);
    const lost = await mintToken(server, account, 'lost laptop');
    const desk = await mintToken(server, account, 'desk');
    const { page, ctx } = await newPage();
    await signIn(page, account);
    const devices = page.locator('#devices > li');
    await expect.poll(() => devices.count()).toBe(2);
    expect(await devices.allTextContents()).toEqual([expect.stringContaining('desk'), expect.stringContaining('lost laptop')]);
    expect(await devices.first().textContent()).toContain('tessera-cli');

    await devices.filter({ hasText: 'lost laptop' }).getByRole('button', { name: 'Sign out this device' }).click();
    await expect.poll(() => devices.count()).toBe(1);
    expect(await page.locator('#account-status').textContent()).toBe('The device is signed out. Its token no longer works.');
    expect((await me(lost)).status).toBe(401);
    expect((await me(desk)).status).toBe(200);

    // Another browser signed in to the same account: "sign out everywhere" ends it, not this one.
    const { page: elsewhere, ctx: elsewhereCtx } = await newPage();
    await signIn(elsewhere, account);
    await page.reload();
    await expect.poll(() => devices.count()).toBe(1);
    expect(await page.locator('.hint', { hasText: 'Sign out everywhere' }).textContent()).toContain('every other browser signed in to your account; this browser stays signed in');
    await page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await expect.poll(() => page.locator('#devices-empty').isVisible()).toBe(true);
    expect(await page.locator('#account-status').textContent()).toBe('Signed out everywhere: 1 device and 1 other browser. This browser is still signed in.');
    expect((await me(desk)).status).toBe(401);
    await page.reload();
    expect(new URL(page.url()).pathname).toBe('/account');
    await elsewhere.reload();
    expect(new URL(elsewhere.url()).pathname).toBe('/signin');
    await elsewhereCtx.close();
    await ctx.close();
  });

  it('when the user creates an API key, then it is shown once with a working copy button, works on the API, and stops working once revoked', async () => {
    const account = await createAccount(server.db);
    const { page, ctx } = await newPage();
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    await signIn(page, account);
    expect(await page.locator('#api-keys-empty').isVisible()).toBe(true);

    await page.getByLabel('Name').fill('nightly report');
    await page.getByLabel(/apps:run/).uncheck();
    await page.getByLabel('Expires').selectOption({ label: 'never' });
    await page.getByRole('button', { name: 'Create key' }).click();
    const secret = page.locator('#new-key-value');
    await expect.poll(() => secret.textContent()).toMatch(/^tsk_[A-Za-z0-9_-]{49}$/);
    const key = (await secret.textContent())!;
    await page.getByRole('button', { name: 'Copy' }).click();
    await expect.poll(() => page.getByRole('button', { name: 'Copied' }).count()).toBe(1);
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key);

    const row = page.locator('#api-keys > li').filter({ hasText: 'nightly report' });
    expect(await row.textContent()).toContain('apps:read');
    expect(await row.textContent()).toContain('does not expire');
    const res = await me(key);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ prefix: 'tsk_', scopes: ['apps:read'], email: account.email });

    // Shown once: a reload lists the key without it.
    await page.reload();
    expect(await page.content()).not.toContain(key);
    expect(await page.locator('#new-key').isHidden()).toBe(true);
    await page.locator('#api-keys > li').filter({ hasText: 'nightly report' }).getByRole('button', { name: 'Revoke' }).click();
    await expect.poll(() => page.locator('#api-keys > li').count()).toBe(0);
    expect((await me(key)).status).toBe(401);
    await ctx.close();
  });

  it('when a key is created without a name or scope, then the form says so and creates nothing', async () => {
    const account = await createAccount(server.db);
    const { page, ctx } = await newPage();
    await signIn(page, account);
    await page.getByRole('button', { name: 'Create key' }).click();
    expect(await page.locator('#create-key-error').textContent()).toContain('Give the key a name');
    await page.getByLabel('Name').fill('k');
    await page.getByLabel(/apps:read/).uncheck();
    await page.getByLabel(/apps:run/).uncheck();
    await page.getByRole('button', { name: 'Create key' }).click();
    expect(await page.locator('#create-key-error').textContent()).toBe('Choose at least one scope.');
    expect(await server.db.query('SELECT 1 FROM api_keys WHERE account_id = $1', [account.id])).toHaveLength(0);
    await ctx.close();
  });

  it('when the user signs out of the browser, then the account page asks to sign in again', async () => {
    const account = await createAccount(server.db);
    const { page, ctx } = await newPage();
    await signIn(page, account);
    await page.getByRole('button', { name: 'Sign out of this browser' }).click();
    await page.waitForURL(`${server.url}/`);
    await page.goto(`${server.url}/account`);
    expect(new URL(page.url()).pathname).toBe('/signin');
    await ctx.close();
  });
});

describe('code entry and sign-in messages in a real browser', () => {
  it('when a code is typed with an en dash, then it reads as a hyphen; a wrong code stays in the box with a message', async () => {
    const account = await createAccount(server.db);
    const { page, ctx } = await newPage();
    await signIn(page, account, '/device');
    const box = page.getByLabel('Enter the code shown in your terminal');
    await box.fill('BCDF–GHJ');
    expect(await box.inputValue()).toBe('BCDF-GHJ');
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect.poll(() => page.locator('#code-error').textContent()).toContain('A code has 8 letters, like BCDF-GHJK; you entered 7.');
    expect(await page.getByLabel('Enter the code shown in your terminal').inputValue()).toBe('BCDF-GHJ');

    const flow = await startFlow(server);
    await page.getByLabel('Enter the code shown in your terminal').fill(flow.user_code.replace('-', '—').toLowerCase());
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: 'Approve' }).waitFor();
    expect(await page.locator('#code').textContent()).toBe(flow.user_code);
    await ctx.close();
  });

  it('when sign-in is locked out, then the message says how long to wait', async () => {
    const account = await createAccount(server.db);
    const { page, ctx } = await newPage();
    await page.goto(`${server.url}/signin`);
    await page.getByLabel('Email').fill(account.email);
    const error = page.locator('#signin-error');
    for (let i = 0; i < 3; i++) {
      await page.getByLabel('Password').fill(`wrong-${i}`);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(() => error.textContent()).toBe('The email or password is wrong.');
      await page.evaluate(() => (document.getElementById('signin-error')!.textContent = ''));
    }
    await page.getByLabel('Password').fill(account.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // The window is 15 minutes; the first attempt is a moment old, so the wait rounds up to 15.
    await expect.poll(() => error.textContent()).toBe('Too many sign-in attempts. Try again in 15 minutes.');
    await ctx.close();
  });
});

describe('layout at 360 px, light and dark', () => {
  it('when each page is shown 360 px wide, then nothing overflows sideways, in light and in dark mode', async () => {
    const account = await createAccount(server.db);
    await mintToken(server, account, 'a-device-label-that-is-very-long-and-has-no-spaces-to-break-at-all');
    await server.app.services.tokens.mintAccountToken({ accountId: account.id, email: account.email, clientId: 'tessera-cli', deviceLabel: 'laptop' });
    for (const dark of [false, true]) {
      const { page, ctx } = await newPage({ width: 360, dark });
      const overflow = async (what: string) => {
        const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
        expect(scroll, `${what} (${dark ? 'dark' : 'light'}) is ${scroll}px wide in a ${client}px window`).toBeLessThanOrEqual(client);
      };
      await page.goto(`${server.url}/`);
      await overflow('/');
      await page.goto(`${server.url}/signin`);
      await overflow('/signin');
      await signIn(page, account);
      await page.getByLabel('Name').fill('key-'.repeat(20));
      await page.getByRole('button', { name: 'Create key' }).click();
      await page.locator('#new-key').waitFor();
      await overflow('/account with a new key shown');
      await page.goto(`${server.url}/device?user_code=${'B'.repeat(20)}`);
      await overflow('/device with an error');
      const flow = await startFlow(server, { device_label: 'build-server-with-a-long-name-and-no-spaces-0123456789' });
      await page.goto(flow.verification_uri_complete);
      await page.getByRole('button', { name: 'Approve' }).waitFor();
      await overflow('/device confirm');
      const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      expect(bg).toBe(dark ? 'rgb(14, 17, 22)' : 'rgb(245, 246, 248)');
      await ctx.close();
    }
  });
});
