import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepStaleRuns } from '../../src/apps/run-sweeper.ts';
import { createAccount, createTestApp, createWorkspace, mintToken } from '../helpers/fixtures.ts';
import { startOpenAiStub, type OpenAiStub } from '../helpers/openai-stub.ts';
import { until } from '../helpers/processes.ts';
import { chatConfig, post, RUN_PATHS, stubModel } from '../helpers/runs.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

// Runs are stale here after 300 ms (provider timeout) + 2 heartbeats of 50 ms. The sweeper's own timer is
// left at its default (a minute); the tests sweep when they choose, so rows they insert are not swept early.
let stub: OpenAiStub;
let server: TestServer;
let appId: string;
let token: string;
beforeAll(async () => {
  stub = await startOpenAiStub();
  server = await startServer({ config: { openai: { baseUrl: stub.url, apiKey: null }, providerTimeoutMs: 300, runHeartbeatMs: 50 } });
  const owner = await createAccount(server.db);
  const ws = await createWorkspace(server.db, owner.id);
  appId = await createTestApp(server.db, ws, { mode: 'chat', config: chatConfig(stubModel('stub-slow')) });
  token = await mintToken(server, owner);
});
afterAll(async () => {
  await server.close();
  await stub.close();
});

describe('runs whose replica is gone', () => {
  it('when a run row stopped getting heartbeats (its replica crashed), then the sweeper ends it as failed; a run with a fresh heartbeat is left alone', async () => {
    const insert = (table: 'messages' | 'workflow_runs', age: string) =>
      server.db.one<{ id: string }>(
        table === 'messages'
          ? `INSERT INTO messages (app_id, subject, query, status, heartbeat_at) VALUES ($1, 'account:crash', 'q', 'running', now() - $2::interval) RETURNING id`
          : `INSERT INTO workflow_runs (app_id, subject, status, heartbeat_at) VALUES ($1, 'account:crash', 'running', now() - $2::interval) RETURNING id`,
        [appId, age],
      );
    const crashedMessage = (await insert('messages', '10 minutes'))!.id;
    const crashedWorkflow = (await insert('workflow_runs', '10 minutes'))!.id;
    const alive = (await insert('messages', '0 seconds'))!.id;
    // Any replica's sweep will do (another test server may hold the lock at that moment).
    await until(async () => {
      await sweepStaleRuns(server.db, server.store, 60_000, server.app.services.log);
      return (await server.db.one<{ status: string }>('SELECT status FROM workflow_runs WHERE id = $1', [crashedWorkflow]))!.status === 'failed';
    }, 'a sweep');
    const message = await server.db.one<{ status: string; error: string }>('SELECT status, error FROM messages WHERE id = $1', [crashedMessage]);
    expect(message).toEqual({ status: 'failed', error: expect.stringContaining('interrupted') });
    const workflow = await server.db.one<{ status: string; finished_at: Date | null }>('SELECT status, finished_at FROM workflow_runs WHERE id = $1', [crashedWorkflow]);
    expect(workflow!.status).toBe('failed');
    expect(workflow!.finished_at).toBeInstanceOf(Date);
    expect((await server.db.one<{ status: string }>('SELECT status FROM messages WHERE id = $1', [alive]))!.status).toBe('running');
    await server.db.query("UPDATE messages SET status = 'stopped' WHERE id = $1", [alive]);
  });

  it('when another replica holds the sweeper lock, then this one does nothing and returns null', async () => {
    // This test holds the lock (retrying while a server's own sweep has it), and sweeps inside it.
    let inner: unknown = 'not run';
    await until(
      async () =>
        (await server.store.withLock('run-sweeper', 5_000, async () => {
          inner = await sweepStaleRuns(server.db, server.store, 60_000, server.app.services.log);
          return true;
        })) === true,
      'the sweeper lock',
    );
    expect(inner).toBeNull();
  });

  it('when a run goes on far longer than the stale threshold, then its heartbeat keeps it running, and it ends as stopped', async () => {
    const controller = new AbortController();
    const res = await post(server, RUN_PATHS.chat.replace('{app_id}', appId), token, { inputs: {}, query: 'go', response_mode: 'streaming' }, { signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    const [row] = await server.db.query<{ id: string }>("SELECT id FROM messages WHERE app_id = $1 AND status = 'running' AND subject <> 'account:crash'", [appId]);
    // Alive for three stale thresholds, swept all along, still running.
    await until(async () => {
      await server.app.services.runs.sweep();
      return (await server.db.one<{ alive: boolean }>("SELECT heartbeat_at - created_at > interval '1200 ms' AS alive FROM messages WHERE id = $1", [row!.id]))!.alive;
    }, 'the run to be alive for a while');
    expect((await server.db.one<{ status: string }>('SELECT status FROM messages WHERE id = $1', [row!.id]))!.status).toBe('running');
    controller.abort();
    await until(async () => (await server.db.one<{ status: string }>('SELECT status FROM messages WHERE id = $1', [row!.id]))!.status === 'stopped', 'the run to stop');
  });
});
