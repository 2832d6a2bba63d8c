import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleSignin, signinRequest } from '../helpers/console.ts';
import { clientNetwork, form } from '../helpers/device.ts';
import { createAccount, uniq, type TestAccount } from '../helpers/fixtures.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

// Per-client limits count an IPv6 client as its /64: a host that rotates its source
// address inside its own network still spends one window.
let server: TestServer;
let account: TestAccount;
beforeAll(async () => {
  // A small per-address sign-in limit keeps the sign-in test from hashing 50 passwords.
  server = await startServer({ config: { consoleSignin: { attempts: 10, attemptsPerIp: 4 } } });
  account = await createAccount(server.db);
});
afterAll(() => server?.close());

const randomV4 = () => `10.64.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;

describe('per-client limits and IPv6 networks', () => {
  it('when user-code lookups come from many addresses of one /64, then they share one window of 60, and another /64 is not limited', async () => {
    const url = `${server.url}/openapi/v1/oauth/device/lookup?user_code=BCDF-GHJK`;
    const host = clientNetwork();
    for (let i = 0; i < 60; i++) expect((await fetch(url, { headers: host() })).status).toBe(200);
    const limited = await fetch(url, { headers: host() });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // The /device page counts toward the same window.
    const { cookie } = await consoleSignin(server, account);
    expect((await fetch(`${server.url}/device?user_code=BCDF-GHJK`, { headers: { cookie, ...host() } })).status).toBe(429);
    expect((await fetch(url, { headers: clientNetwork()() })).status).toBe(200);
  });

  it('when device codes are requested from many addresses of one /64, then the 61st in the hour is refused', async () => {
    const host = clientNetwork();
    const start = () => form(`${server.url}/openapi/v1/oauth/device/code`, { client_id: 'tessera-cli' }, host());
    for (let i = 0; i < 60; i++) expect((await start()).status).toBe(200);
    const limited = await start();
    expect(limited.status).toBe(429);
    expect((await limited.json()).error).toBe('slow_down');
  });

  it('when password attempts come from many addresses of one /64, then they share the per-address sign-in limit', async () => {
    const host = clientNetwork();
    for (let i = 0; i < 4; i++) expect((await signinRequest(server, `spray-${i}-${uniq()}@example.test`, 'guess', host())).status).toBe(401);
    const limited = await signinRequest(server, account.email, account.password, host());
    expect(limited.status).toBe(429);
    expect((await limited.json()).error).toBe('rate_limited');
    expect((await signinRequest(server, account.email, account.password, clientNetwork()())).status).toBe(200);
  });

  it('when an IPv4 client also arrives as IPv4-mapped IPv6, then both spellings share its window, and its IPv4 neighbour does not', async () => {
    const v4 = randomV4();
    for (let i = 0; i < 4; i++) {
      const from = i % 2 === 0 ? v4 : `::ffff:${v4}`;
      expect((await signinRequest(server, `mapped-${i}-${uniq()}@example.test`, 'guess', { 'x-forwarded-for': from })).status).toBe(401);
    }
    expect((await signinRequest(server, account.email, account.password, { 'x-forwarded-for': `::ffff:${v4}` })).status).toBe(429);
    const neighbour = v4.replace(/\.(\d+)$/, (_m, last: string) => `.${(Number(last) + 1) % 256}`);
    expect((await signinRequest(server, account.email, account.password, { 'x-forwarded-for': neighbour })).status).toBe(200);
  });
});
