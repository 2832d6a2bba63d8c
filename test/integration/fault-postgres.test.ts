import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken } from '../../src/auth/token-kinds.ts';
import { Database } from '../../src/storage/db.ts';
import { migrate } from '../../src/storage/migrate.ts';
import { consoleSignin, decide } from '../helpers/console.ts';
import { startFlow } from '../helpers/device.ts';
import { createAccount, createTestApp, createWorkspace, member, mintToken } from '../helpers/fixtures.ts';
import { reportTiming, startLoad } from '../helpers/load.ts';
import { startOpenAiStub, type OpenAiStub } from '../helpers/openai-stub.ts';
import { PostgresProcess, until } from '../helpers/processes.ts';
import { chatConfig, post, RUN_PATHS, stubModel } from '../helpers/runs.ts';
import { auditLog, startServer, type TestServer } from '../helpers/server.ts';
import { expectMatchesSpec } from '../helpers/spec.ts';

// One replica on this file's own Postgres, which the tests stop and start; Redis is the
// shared test Redis, untouched. Runs are judged stale quickly here: provider timeout
// 500 ms + 2 heartbeats of 100 ms, swept every 100 ms.
let pg: PostgresProcess;
let db: Database;
let stub: OpenAiStub;
let server: TestServer;
const logged = auditLog();

beforeAll(async () => {
  pg = await PostgresProcess.create();
  db = new Database(pg.url);
  await migrate(db);
  stub = await startOpenAiStub();
  server = await startServer({
    db,
    log: logged.log,
    config: { rateLimitPerToken: 1_000_000, openai: { baseUrl: stub.url, apiKey: null }, providerTimeoutMs: 500, runHeartbeatMs: 100, runSweepIntervalMs: 100 },
  });
});
afterAll(async () => {
  await server?.close();
  await db?.close();
  await stub?.close();
  await pg?.close();
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${server.url}${path}`, { headers, signal: AbortSignal.timeout(5_000) });

describe('Postgres stops under load', () => {
  it('when Postgres stops, then cold requests, pages and the console answer their 503 (warm ones keep working, nothing crashes), and all recover within 2 s of its return', async () => {
    const m = await member(server);
    const account = await createAccount(db);
    const login = await consoleSignin(server, account);
    const flow = await startFlow(server);
    expect((await get('/openapi/v1/me', m.auth)).status).toBe(200);
    const cold = { Authorization: `Bearer ${generateToken('tsa_')}` };
    const load = startLoad([
      { url: `${server.url}/openapi/v1/me`, headers: m.auth },
      { url: `${server.url}/openapi/v1/me`, headers: cold },
      { url: `${server.url}/openapi/v1/apps/${m.appId}/info`, headers: m.auth },
      { url: `${server.url}/console/api/session`, headers: { cookie: login.cookie } },
      { url: `${server.url}/device`, headers: { cookie: login.cookie } },
    ]);
    await until(async () => (load.histogram.get('200') ?? 0) >= 20, 'load to flow');
    await pg.stop('SIGINT');

    // Warm: the cached identity and app need no Postgres.
    expect((await get('/openapi/v1/me', m.auth)).status).toBe(200);
    expect((await get(`/openapi/v1/apps/${m.appId}/info`, m.auth)).status).toBe(200);
    const coldDown = await get('/openapi/v1/me', cold);
    expect(coldDown.status).toBe(503);
    expectMatchesSpec('get', '/me', 503, await coldDown.json());
    const page = await get('/device', { cookie: login.cookie });
    expect(page.status).toBe(503);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('Tessera is having trouble right now');
    const session = await get('/console/api/session', { cookie: login.cookie });
    expect(session.status).toBe(503);
    expect(await session.json()).toMatchObject({ error: 'service_unavailable', request_id: expect.any(String) });
    const approve = await decide(server, 'approve', flow.user_code, login);
    expect(approve.status).toBe(503);
    expect((await approve.json()).error).toBe('temporarily_unavailable');
    const health = await get('/openapi/v1/_health');
    expect(await health.json()).toMatchObject({ ok: false, checks: { database: 'unavailable', store: 'ok' } });

    await pg.start();
    const recovery = await until(
      async () => (await get('/openapi/v1/me', cold)).status === 401 && (await get('/console/api/session', { cookie: login.cookie })).status === 200,
      'cold requests and the console to work',
    );
    reportTiming('Postgres back → first success of a cold request and the console (under load)', recovery);
    const histogram = await load.stop();
    expect([...histogram.keys()].filter((k) => !['200', '401', '503'].includes(k))).toEqual([]);
    expect(histogram.get('503')).toBeGreaterThan(0);
    expect(recovery).toBeLessThan(2_000);
    // The approval that failed changed nothing: it can be made now.
    expect((await decide(server, 'approve', flow.user_code, login)).status).toBe(200);
  });
});

describe('runs when Postgres goes away mid-run', () => {
  async function slowChat() {
    const owner = await createAccount(db);
    const ws = await createWorkspace(db, owner.id);
    const appId = await createTestApp(db, ws, { mode: 'chat', config: chatConfig(stubModel('stub-slow')) });
    return { appId, token: await mintToken(server, owner) };
  }

  /** A streaming run that has produced its first words; abort() is the client going away. */
  async function runningStream(appId: string, token: string) {
    const controller = new AbortController();
    const res = await post(server, RUN_PATHS.chat.replace('{app_id}', appId), token, { inputs: {}, query: 'go', response_mode: 'streaming' }, { signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    const [row] = await db.query<{ id: string }>("SELECT id FROM messages WHERE app_id = $1 AND status = 'running'", [appId]);
    return { messageId: row!.id, abort: () => controller.abort() };
  }

  const statusOf = async (id: string) => (await db.one<{ status: string; answer: string }>('SELECT status, answer FROM messages WHERE id = $1', [id]))!;
  const retries = () => logged.lines.filter((l) => l.includes('run result not written yet')).length;
  const ended = (appId: string) => logged.events.some((e) => e.event === 'app.run.openapi' && e.app_id === appId);

  it('when Postgres is back within a few seconds, then the retried final write records the run', async () => {
    const { appId, token } = await slowChat();
    const run = await runningStream(appId, token);
    await pg.stop('SIGINT');
    const retriesBefore = retries();
    run.abort();
    await until(async () => retries() > retriesBefore, 'the final write to fail and be retried');
    expect(ended(appId)).toBe(false);
    await pg.start();
    await until(async () => ended(appId), 'the run to end');
    const row = await statusOf(run.messageId);
    expect(row.status).toBe('stopped');
    expect(row.answer).toMatch(/^tick0 /);
  });

  it('when Postgres stays away longer than the retries, then the sweeper marks the run failed within 2 s of its return', async () => {
    const { appId, token } = await slowChat();
    const run = await runningStream(appId, token);
    await pg.stop('SIGINT');
    run.abort();
    // The replica gave up writing (its audit line is the last thing a run does).
    await until(async () => ended(appId), 'the run to give up its final write', 10_000);
    await pg.start();
    const ms = await until(async () => (await statusOf(run.messageId)).status === 'failed', 'the sweeper to end the run');
    reportTiming('Postgres back → stale run marked failed', ms);
    expect(ms).toBeLessThan(2_000);
  });
});
