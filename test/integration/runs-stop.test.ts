import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_REDIS_URL } from '../helpers/env.ts';
import { addMember, createAccount, createTestApp, createWorkspace, mintToken } from '../helpers/fixtures.ts';
import { startOpenAiStub, type OpenAiStub } from '../helpers/openai-stub.ts';
import { chatConfig, expectEventsMatchSpec, post, readEvents, RUN_PATHS, stubModel, workflowConfig, type RunEvent } from '../helpers/runs.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { expectMatchesSpec } from '../helpers/spec.ts';

// Two replicas with their own Redis connections to the same Redis, like two pods.
let stub: OpenAiStub;
let a: TestServer;
let b: TestServer;
beforeAll(async () => {
  stub = await startOpenAiStub();
  const config = { openai: { baseUrl: stub.url, apiKey: null }, providerTimeoutMs: 2_000 };
  a = await startServer({ config });
  b = await startServer({ config, db: a.db });
});
afterAll(async () => {
  await b.close();
  await a.close();
  await stub.close();
});

async function slowApp(mode: 'chat' | 'workflow' = 'chat') {
  const owner = await createAccount(a.db);
  const other = await createAccount(a.db);
  const ws = await createWorkspace(a.db, owner.id);
  await addMember(a.db, other.id, ws);
  const config = mode === 'chat' ? chatConfig(stubModel('stub-slow')) : workflowConfig(stubModel('stub-slow'));
  const appId = await createTestApp(a.db, ws, { mode, config });
  return { appId, owner: await mintToken(a, owner), other: await mintToken(a, other) };
}

const until = async (check: () => Promise<boolean>, ms = 5_000) => {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) if (await check()) return;
  throw new Error('condition not met in time');
};
const stop = (server: TestServer, appId: string, taskId: string, token: string) => post(server, `/apps/${appId}/tasks/${taskId}/stop`, token, { user: 'ignored' });

describe('stopping a task', () => {
  it('when the owner stops a streaming chat on another replica, then it ends early and is recorded as stopped', async () => {
    const { appId, owner, other } = await slowApp();
    const res = await post(a, RUN_PATHS.chat.replace('{app_id}', appId), owner, { inputs: {}, query: 'go', response_mode: 'streaming' });
    let stopped: Promise<Response> | null = null;
    const started = Date.now();
    const events = await readEvents(res, (e: RunEvent) => {
      if (e.event !== 'message' || stopped) return;
      // Another subject (same workspace) cannot stop it; the owner can, from replica b.
      stopped = stop(b, appId, e.task_id, other).then(async (denied) => {
        expect(denied.status).toBe(404);
        return stop(b, appId, e.task_id, owner);
      });
    });
    const answer = await stopped!;
    const body = await answer.json();
    expect(answer.status).toBe(200);
    expect(body).toEqual({ result: 'success' });
    expectMatchesSpec('post', '/apps/{app_id}/tasks/{task_id}/stop', 200, body);
    expect(Date.now() - started).toBeLessThan(10_000);
    expectEventsMatchSpec(RUN_PATHS.chat, events);
    expect(events.at(-1)!.event).toBe('message_end');
    const [row] = await a.db.query<{ status: string; answer: string }>('SELECT status, answer FROM messages WHERE id = $1', [events[0]!.message_id]);
    expect(row!.status).toBe('stopped');
    expect(row!.answer).toMatch(/^tick0 /);
    // Finished tasks are gone: a second stop is 404.
    expect((await stop(b, appId, events[0]!.task_id, owner)).status).toBe(404);
  });

  it('when a blocking workflow is stopped from another replica, then it answers with status stopped', async () => {
    const { appId, owner } = await slowApp('workflow');
    const pending = post(a, RUN_PATHS.workflow.replace('{app_id}', appId), owner, { inputs: { name: 'Ada' } });
    let runId = '';
    await until(async () => {
      const rows = await a.db.query<{ id: string }>("SELECT id FROM workflow_runs WHERE app_id = $1 AND status = 'running'", [appId]);
      runId = rows[0]?.id ?? '';
      return runId !== '' && stub.requests.some((r) => r.messages[0]?.content === 'Hello, Ada! again');
    });
    // A blocking caller learns the task id only from the answer; the test finds it by its store key.
    const redis = new Redis(TEST_REDIS_URL);
    let taskId = '';
    for (const k of await redis.keys('task:{*}')) if ((await redis.get(k))?.includes(appId)) taskId = k.slice(6, -1);
    redis.disconnect();
    expect((await stop(b, appId, taskId, owner)).status).toBe(200);
    const res = await pending;
    const body = await res.json();
    expect(res.status).toBe(200);
    expectMatchesSpec('post', RUN_PATHS.workflow, 200, body);
    expect(body).toMatchObject({ task_id: taskId, workflow_run_id: runId, data: { status: 'stopped', outputs: null, total_steps: 2 } });
  });

  it('when the task id is unknown, then 404 not_found', async () => {
    const { appId, owner } = await slowApp();
    const res = await stop(b, appId, crypto.randomUUID(), owner);
    expect(res.status).toBe(404);
    expectMatchesSpec('post', '/apps/{app_id}/tasks/{task_id}/stop', 404, await res.json());
  });
});

describe('client disconnect', () => {
  it('when the client goes away mid-stream, then the run stops, the upstream request is cut, and it is recorded as stopped', async () => {
    const { appId, owner } = await slowApp();
    const abortedBefore = stub.aborted;
    const controller = new AbortController();
    const res = await post(a, RUN_PATHS.chat.replace('{app_id}', appId), owner, { inputs: {}, query: 'go', response_mode: 'streaming' }, { signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await until(async () => {
      const [row] = await a.db.query<{ status: string }>('SELECT status FROM messages WHERE app_id = $1', [appId]);
      return row?.status === 'stopped';
    });
    await until(async () => stub.aborted > abortedBefore);
  });

  it('when the client goes away during a blocking run, then the run stops and is recorded as stopped', async () => {
    const { appId, owner } = await slowApp();
    const abortedBefore = stub.aborted;
    const requestsBefore = stub.requests.length;
    const controller = new AbortController();
    const pending = post(a, RUN_PATHS.chat.replace('{app_id}', appId), owner, { inputs: {}, query: 'go' }, { signal: controller.signal }).catch((e: unknown) => e);
    await until(async () => stub.requests.length > requestsBefore);
    controller.abort();
    expect(await pending).toBeInstanceOf(Error);
    await until(async () => {
      const [row] = await a.db.query<{ status: string }>('SELECT status FROM messages WHERE app_id = $1', [appId]);
      return row?.status === 'stopped';
    });
    await until(async () => stub.aborted > abortedBefore);
  });
});
