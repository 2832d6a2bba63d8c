import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appServer } from '../../src/server/http-server.ts';
import { member } from '../helpers/fixtures.ts';
import { listenLocal, type Listening } from '../helpers/listen.ts';
import { exchange, normalized, oddRequests } from '../helpers/odd-targets.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

// The front dispatcher's API way (headers held and written in one go, docs/performance.md) must
// answer byte for byte as express's own way does: one app, served once through its handler and
// once through express alone, gets the same odd requests. In production, where the warm path
// takes every shortcut it has.
const ORIGIN = 'https://console.example';
let server: TestServer;
let dispatched: Listening;
let expressOnly: Listening;
let m: Awaited<ReturnType<typeof member>>;

beforeAll(async () => {
  server = await startServer({ config: { env: 'production', corsAllowOrigins: [ORIGIN], rateLimitPerToken: 1_000_000 } });
  m = await member(server);
  dispatched = await listenLocal(appServer(server.app).server);
  expressOnly = await listenLocal(createServer(server.app.express));
});
afterAll(async () => {
  await dispatched.close();
  await expressOnly.close();
  await server.close();
});

const portOf = (l: Listening) => Number(new URL(l.url).port);

describe('the front dispatcher against express alone', () => {
  it('when the same odd requests reach the app either way, then every answer is the same, byte for byte', async () => {
    const requests = oddRequests({ token: m.token, appId: m.appId, origin: ORIGIN });
    expect(requests.length).toBeGreaterThan(500);
    const differ: string[] = [];
    const statuses = new Set<string>();
    for (const r of requests) {
      const viaDispatcher = normalized(await exchange(portOf(dispatched), r), r);
      const viaExpress = normalized(await exchange(portOf(expressOnly), r), r);
      statuses.add(viaDispatcher.slice(9, 12));
      if (viaDispatcher !== viaExpress) differ.push(`${r.method} ${r.target}\n--- dispatcher\n${viaDispatcher}\n--- express\n${viaExpress}`);
    }
    expect(differ.slice(0, 3).join('\n\n')).toBe('');
    // The list reaches answers of every kind, so the comparison is not of errors only.
    expect([...statuses].sort()).toEqual(expect.arrayContaining(['200', '204', '400', '401', '404', '405']));
  });
});
