import * as client from 'openid-client';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrantAdmin } from '../../src/admin/grants-admin.ts';
import { launchChromium } from '../helpers/browser.ts';
import { createTestApp, createWorkspace } from '../helpers/fixtures.ts';
import { readEvents } from '../helpers/runs.ts';
import { expectMatchesSpec } from '../helpers/spec.ts';
import { idpUser, startSsoPair, type SsoPair } from '../helpers/sso.ts';

let pair: SsoPair;
let browser: Browser;
beforeAll(async () => {
  // A one-second interval keeps openid-client's own polling loop quick.
  pair = await startSsoPair({ server: { config: { devicePollIntervalSeconds: 1 } } });
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await pair?.close();
});

async function deviceClient() {
  return client.discovery(new URL(pair.server.url), 'tessera-cli', undefined, client.None(), {
    algorithm: 'oauth2',
    execute: [client.allowInsecureRequests],
  });
}

/** From the chooser to the IdP's sign-in page and back to /device. */
async function chooseSsoAndSignIn(page: Page, login: string) {
  await page.getByRole('button', { name: 'Continue with Corp SSO' }).click();
  await page.waitForURL((u) => u.href.startsWith(pair.idp.issuer));
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
}

describe('external single sign-on in a real browser, with openid-client as the device', () => {
  it('when a person without an account signs in at the IdP and approves, then the device gets tse_, sees exactly its granted apps, runs one, and loses it when the grant is revoked', async () => {
    const user = idpUser();
    pair.idp.accounts.set(user.login, user);
    const ws = await createWorkspace(pair.server.db);
    const granted = await createTestApp(pair.server.db, ws, { name: 'Support chat', accessMode: 'external' });
    await createTestApp(pair.server.db, ws, { name: 'Not for you', accessMode: 'external' });
    const grants = new GrantAdmin(pair.server.db, (id) => pair.server.app.services.grantVerdicts.invalidate(id));
    await grants.grant(granted, { issuer: pair.idp.issuer, email: user.email });

    const config = await deviceClient();
    const started = await client.initiateDeviceAuthorization(config, { device_label: 'e2e sso laptop' });
    const polling = client.pollDeviceAuthorizationGrant(config, started);

    const page = await (await browser.newContext()).newPage();
    await page.goto(started.verification_uri);
    await page.getByLabel('Enter the code shown in your terminal').fill(started.user_code.toLowerCase());
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.locator('#chooser').waitFor();
    expect(await page.locator('#code').textContent()).toBe(started.user_code);
    // The user code left the address bar as soon as the page loaded.
    expect(page.url()).toBe(`${pair.server.url}/device`);
    await chooseSsoAndSignIn(page, user.login);

    await page.locator('#sso-confirm').waitFor({ state: 'visible' });
    expect(page.url()).toBe(`${pair.server.url}/device`);
    expect(await page.locator('#sso-code').textContent()).toBe(started.user_code);
    expect(await page.locator('#sso-email').textContent()).toBe(user.email);
    expect(await page.locator('#sso-issuer').textContent()).toBe(pair.idp.issuer);
    expect(await page.locator('#sso-device-label').textContent()).toBe('e2e sso laptop');
    expect(await page.locator('#sso-time-left').textContent()).toMatch(/^1[45]:\d\d$/);
    await page.getByRole('button', { name: 'Approve' }).click();
    await expect.poll(() => page.locator('#result').textContent()).toBe('Device approved. You can return to your terminal.');
    await page.context().close();

    const tokens = await polling;
    expect(tokens.access_token).toMatch(/^tse_/);
    expect(tokens.scope).toBe('apps:run apps:read:permitted');

    const permitted = await client.fetchProtectedResource(config, tokens.access_token, new URL(`${pair.server.url}/openapi/v1/apps/permitted`), 'GET');
    expect(permitted.status).toBe(200);
    const list = await permitted.json();
    expectMatchesSpec('get', '/apps/permitted', 200, list);
    expect(list.data.map((a: { id: string }) => a.id)).toEqual([granted]);

    const run = await fetch(`${pair.server.url}/openapi/v1/apps/${granted}/chat-messages`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${tokens.access_token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ inputs: {}, query: 'hello from sso', response_mode: 'streaming' }),
    });
    const events = await readEvents(run);
    expect(events.filter((e) => e.event === 'message').map((e) => e.answer).join('')).toBe('hello from sso');
    expect(events.at(-1)!.event).toBe('message_end');

    await grants.revoke(granted, { issuer: pair.idp.issuer, email: user.email });
    const after = await client.fetchProtectedResource(config, tokens.access_token, new URL(`${pair.server.url}/openapi/v1/apps/${granted}/info`), 'GET');
    expect(after.status).toBe(404);
    const none = await client.fetchProtectedResource(config, tokens.access_token, new URL(`${pair.server.url}/openapi/v1/apps/permitted`), 'GET');
    expect((await none.json()).total).toBe(0);
  });

  it('when the person cancels at the IdP, then a clear page without the code in the address bar, and the device hears nothing but pending', async () => {
    const user = idpUser();
    pair.idp.accounts.set(user.login, user);
    const config = await deviceClient();
    const started = await client.initiateDeviceAuthorization(config, { device_label: 'cancelled' });
    const page = await (await browser.newContext()).newPage();
    await page.goto(started.verification_uri_complete!);
    await page.getByRole('button', { name: 'Continue with Corp SSO' }).click();
    await page.waitForURL((u) => u.href.startsWith(pair.idp.issuer));
    await page.getByRole('link', { name: /cancel/i }).click();
    await expect.poll(() => page.locator('[role="alert"]').textContent()).toContain('Sign-in with Corp SSO was cancelled or refused, so nothing was approved.');
    expect(page.url()).toBe(`${pair.server.url}/device/sso-complete`);
    await page.context().close();
    const res = await fetch(`${pair.server.url}/openapi/v1/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: started.device_code, client_id: 'tessera-cli' }).toString(),
    });
    expect((await res.json()).error).toBe('authorization_pending');
  });
});
