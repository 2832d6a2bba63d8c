import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/auth/token-kinds.ts';
import { deviceFlowFor } from '../../src/device-flow/device-flow-service.ts';
import { recordKey, usedKey } from '../../src/device-flow/device-scripts.ts';
import { consoleSignin, decide } from '../helpers/console.ts';
import { backdateCollection, poll, startFlow } from '../helpers/device.ts';
import { createAccount, type TestAccount } from '../helpers/fixtures.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

// The single-replica memory store must behave as Redis does for the whole device flow.
describe.each(['redis', 'memory'] as const)('the device flow on the %s store', (store) => {
  let server: TestServer;
  let account: TestAccount;
  beforeAll(async () => {
    server = await startServer({ store });
    account = await createAccount(server.db);
  });
  afterAll(() => server.close());

  it('when a code is looked up, approved on the console and polled, then one token; a repeat within the grace window revokes nothing, a replay after it revokes the token', async () => {
    const flow = await startFlow(server);
    const lookup = await fetch(`${server.url}/openapi/v1/oauth/device/lookup?user_code=${flow.user_code}`);
    expect(await lookup.json()).toMatchObject({ valid: true, client_id: 'tessera-cli', device_label: 'laptop' });
    const login = await consoleSignin(server, account);
    expect((await decide(server, 'approve', flow.user_code, login)).status).toBe(200);
    expect((await decide(server, 'approve', flow.user_code, login)).status).toBe(409);
    const first = await poll(server, flow.device_code);
    expect(first.status).toBe(200);
    const { access_token } = await first.json();
    const me = () => fetch(`${server.url}/openapi/v1/me`, { headers: { Authorization: `Bearer ${access_token}` } });
    expect((await me()).status).toBe(200);
    const retried = await poll(server, flow.device_code);
    expect((await retried.json()).error).toBe('invalid_grant');
    expect((await me()).status).toBe(200);
    await backdateCollection(server, flow.device_code);
    const replay = await poll(server, flow.device_code);
    expect((await replay.json()).error).toBe('invalid_grant');
    expect((await me()).status).toBe(401);
  });

  it('when the store still holds an approval that Postgres says was collected (an older snapshot), then the poll is a replay, and the marker it leaves keeps the real collection time', async () => {
    const flow = await startFlow(server, { device_label: `snapshot-${Date.now()}` });
    const hash = hashToken(flow.device_code);
    expect((await decide(server, 'approve', flow.user_code, await consoleSignin(server, account))).status).toBe(200);
    const approved = (await server.store.get(recordKey(hash)))!;
    const ttl = await server.store.pttl(recordKey(hash));
    const first = await poll(server, flow.device_code);
    expect(first.status).toBe(200);
    const { access_token } = await first.json();
    // Collected a minute ago, and the store went back to before that.
    await backdateCollection(server, flow.device_code, 60_000);
    await server.store.del(usedKey(hash));
    await server.store.set(recordKey(hash), approved, ttl);

    const replay = await poll(server, flow.device_code);
    expect((await replay.json()).error).toBe('invalid_grant');
    expect((await fetch(`${server.url}/openapi/v1/me`, { headers: { Authorization: `Bearer ${access_token}` } })).status).toBe(401);
    const marker = JSON.parse((await server.store.get(usedKey(hash)))!) as { at: number };
    expect(marker.at).toBeLessThan(Date.now() - 50_000);
  });

  it('when 100 polls race on one approved code, then exactly one token is issued and it is not revoked by the others', async () => {
    const flow = await startFlow(server, { device_label: `race-${Date.now()}` });
    expect(await deviceFlowFor(server.app.services).approve(flow.user_code, account)).toBe('ok');
    const results = await Promise.all(Array.from({ length: 100 }, () => poll(server, flow.device_code)));
    const bodies = await Promise.all(results.map((r) => r.json()));
    const tokens = bodies.filter((b) => b.access_token).map((b) => b.access_token as string);
    expect(tokens).toHaveLength(1);
    expect(bodies.filter((b) => !b.access_token).every((b) => ['authorization_pending', 'invalid_grant'].includes(b.error))).toBe(true);
    expect((await fetch(`${server.url}/openapi/v1/me`, { headers: { Authorization: `Bearer ${tokens[0]}` } })).status).toBe(200);
    // A poll retried after the race (its answer lost) is still not a replay.
    expect((await (await poll(server, flow.device_code)).json()).error).toBe('invalid_grant');
    expect((await fetch(`${server.url}/openapi/v1/me`, { headers: { Authorization: `Bearer ${tokens[0]}` } })).status).toBe(200);
  });

  it('when polled twice quickly, then slow_down grows the interval; when denied, then access_denied', async () => {
    const flow = await startFlow(server);
    expect((await (await poll(server, flow.device_code)).json()).error).toBe('authorization_pending');
    expect((await (await poll(server, flow.device_code)).json()).error).toBe('slow_down');
    expect(await deviceFlowFor(server.app.services).deny(flow.user_code, account)).toBe('ok');
    expect((await (await poll(server, flow.device_code)).json()).error).toBe('access_denied');
    expect(await deviceFlowFor(server.app.services).lookup(flow.user_code)).toEqual({ valid: false });
  });
});
