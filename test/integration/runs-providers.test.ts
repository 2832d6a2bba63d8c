import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, createTestApp, createWorkspace, mintToken } from '../helpers/fixtures.ts';
import { startOpenAiStub, type OpenAiStub } from '../helpers/openai-stub.ts';
import { chatConfig, expectEventsMatchSpec, post, readEvents, RUN_PATHS, stubModel, workflowConfig } from '../helpers/runs.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { expectMatchesSpec } from '../helpers/spec.ts';

let stub: OpenAiStub;
let server: TestServer;
beforeAll(async () => {
  stub = await startOpenAiStub();
  server = await startServer({ config: { openai: { baseUrl: stub.url, apiKey: 'sk-test' }, providerTimeoutMs: 400, ssePingIntervalMs: 50 } });
});
afterAll(async () => {
  await server.close();
  await stub.close();
});

async function chatApp(model: string) {
  const account = await createAccount(server.db);
  const ws = await createWorkspace(server.db, account.id);
  const appId = await createTestApp(server.db, ws, { mode: 'chat', config: chatConfig(stubModel(model)) });
  return { appId, token: await mintToken(server, account) };
}
const chat = (appId: string, token: string, response_mode = 'blocking') =>
  post(server, RUN_PATHS.chat.replace('{app_id}', appId), token, { inputs: {}, query: 'tell me more', response_mode });

describe('the openai provider', () => {
  it('when the endpoint streams, then the answer and its reported usage, with the configured key and the system prompt sent', async () => {
    const { appId, token } = await chatApp('stub-ok');
    const res = await chat(appId, token);
    const body = await res.json();
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ answer: 'tell me more', metadata: { usage: { prompt_tokens: 11, completion_tokens: 3, total_tokens: 14 } } });
    const sent = stub.requests.at(-1)!;
    expect(sent.authorization).toBe('Bearer sk-test');
    expect(sent.messages).toEqual([
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'tell me more' },
    ]);
  });

  it('when the endpoint ignores stream and answers JSON, then the answer still arrives', async () => {
    const { appId, token } = await chatApp('stub-json');
    const body = await (await chat(appId, token)).json();
    expect(body).toMatchObject({ answer: 'tell me more', metadata: { usage: { total_tokens: 10 } } });
  });

  it('when streaming through the endpoint, then deltas and message_end per the spec', async () => {
    const { appId, token } = await chatApp('stub-ok');
    const events = await readEvents(await chat(appId, token, 'streaming'));
    expectEventsMatchSpec(RUN_PATHS.chat, events);
    expect(events.filter((e) => e.event === 'message').map((e) => e.answer).join('')).toBe('tell me more');
    expect(events.at(-1)!.event).toBe('message_end');
  });
});

describe('provider failures', () => {
  it('when the endpoint answers 500, then blocking gets 502 provider_error and the message is recorded as failed', async () => {
    const { appId, token } = await chatApp('stub-500');
    const res = await chat(appId, token);
    const body = await res.json();
    expect(res.status).toBe(502);
    expect(body.error).toBe('provider_error');
    expectMatchesSpec('post', RUN_PATHS.chat, 502, body);
    const [row] = await server.db.query<{ status: string }>('SELECT status FROM messages WHERE app_id = $1', [appId]);
    expect(row!.status).toBe('failed');
  });

  it('when the endpoint answers 500 while streaming, then the stream ends with an error event', async () => {
    const { appId, token } = await chatApp('stub-500');
    const events = await readEvents(await chat(appId, token, 'streaming'));
    expectEventsMatchSpec(RUN_PATHS.chat, events);
    expect(events.at(-1)).toMatchObject({ event: 'error', status: 502, code: 'provider_error' });
  });

  it('when the endpoint hangs, then blocking gets 502 after the provider timeout, not a hang', async () => {
    const { appId, token } = await chatApp('stub-hang');
    // The 502 itself is the proof: the request ends by the provider timeout, not by the test's.
    const res = await chat(appId, token);
    expect(res.status).toBe(502);
    expect((await res.json()).message).toMatch(/did not answer in time/);
  });

  it('when the endpoint hangs while streaming, then pings keep the stream alive until the error event', async () => {
    const { appId, token } = await chatApp('stub-hang');
    const events = await readEvents(await chat(appId, token, 'streaming'));
    expectEventsMatchSpec(RUN_PATHS.chat, events);
    expect(events.filter((e) => e.event === 'ping').length).toBeGreaterThan(0);
    expect(events.at(-1)).toMatchObject({ event: 'error', code: 'provider_error' });
  });

  it('when an llm step of a workflow fails, then 502 and the run is recorded failed at that step', async () => {
    const account = await createAccount(server.db);
    const ws = await createWorkspace(server.db, account.id);
    const appId = await createTestApp(server.db, ws, { mode: 'workflow', config: workflowConfig(stubModel('stub-500')) });
    const token = await mintToken(server, account);
    const res = await post(server, RUN_PATHS.workflow.replace('{app_id}', appId), token, { inputs: { name: 'Ada' } });
    expect(res.status).toBe(502);
    const [row] = await server.db.query<{ status: string; total_steps: number; error: string }>(
      'SELECT status, total_steps, error FROM workflow_runs WHERE app_id = $1',
      [appId],
    );
    expect(row).toMatchObject({ status: 'failed', total_steps: 2 });
    expect(row!.error).toMatch(/500/);

    const events = await readEvents(await post(server, RUN_PATHS.workflow.replace('{app_id}', appId), token, { inputs: { name: 'Ada' }, response_mode: 'streaming' }));
    expectEventsMatchSpec(RUN_PATHS.workflow, events);
    expect(events.filter((e) => e.event === 'node_finished').map((e) => (e.data as { status: string }).status)).toEqual(['succeeded', 'failed']);
    expect(events.at(-1)).toMatchObject({ event: 'error', code: 'provider_error' });
  });
});
