import { afterAll, beforeAll, expect, it } from 'vitest';
import { idpUser, ssoLogin, startSsoPair, type SsoPair } from '../helpers/sso.ts';

let pair: SsoPair;
beforeAll(async () => {
  pair = await startSsoPair();
});
afterAll(() => pair.close());

it('smoke', async () => {
  const user = idpUser();
  const { token, scope } = await ssoLogin(pair, user);
  expect(token).toMatch(/^tse_/);
  expect(scope).toBe('apps:run apps:read:permitted');
  const me = await fetch(`${pair.server.url}/openapi/v1/me`, { headers: { Authorization: `Bearer ${token}` } });
  console.log(await me.json());
});
