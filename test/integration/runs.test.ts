import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_APPS } from '../../src/admin/seed.ts';
import { createAccount, createApiKey, createTestApp, createWorkspace, mintToken } from '../helpers/fixtures.ts';
import { chatConfig, completionConfig, expectEventsMatchSpec, get, post, readEvents, RUN_PATHS, workflowConfig } from '../helpers/runs.ts';
import { auditLog, startServer, type TestServer } from '../helpers/server.ts';
import { expectMatchesSpec } from '../helpers/spec.ts';

let server: TestServer;
const logged = auditLog();
beforeAll(async () => {
  server = await startServer({ log: logged.log });
});
afterAll(() => server.close());

const configs = { chat: chatConfig(), completion: completionConfig(), workflow: workflowConfig() };

async function appOf(mode: 'chat' | 'completion' | 'workflow') {
  const account = await createAccount(server.db);
  const ws = await createWorkspace(server.db, account.id);
  const appId = await createTestApp(server.db, ws, { mode, config: configs[mode] });
  return { account, appId, token: await mintToken(server, account) };
}
const path = (mode: keyof typeof RUN_PATHS, appId: string) => RUN_PATHS[mode].replace('{app_id}', appId);

describe('blocking runs', () => {
  it('when a chat app runs, then the echo answer with word usage, a new conversation, and the spec shape', async () => {
    const { appId, token } = await appOf('chat');
    const res = await post(server, path('chat', appId), token, { inputs: {}, query: 'hello there world', user: 'ignored' });
    expect(res.status).toBe(200);
    const body = await res.json();
    expectMatchesSpec('post', RUN_PATHS.chat, 200, body);
    expect(body).toMatchObject({ event: 'message', mode: 'chat', answer: 'hello there world' });
    expect(body.id).toBe(body.message_id);
    // prompt = system prompt (3 words) + the query (3 words)
    expect(body.metadata.usage).toEqual({ prompt_tokens: 6, completion_tokens: 3, total_tokens: 9 });
    const [row] = await server.db.query<{ status: string; answer: string }>('SELECT status, answer FROM messages WHERE id = $1', [body.id]);
    expect(row).toEqual({ status: 'succeeded', answer: 'hello there world' });
  });

  it('when a completion app runs, then the rendered prompt echoed, without a conversation', async () => {
    const { appId, token } = await appOf('completion');
    const res = await post(server, path('completion', appId), token, { inputs: {} });
    const body = await res.json();
    expect(res.status).toBe(200);
    expectMatchesSpec('post', RUN_PATHS.completion, 200, body);
    expect(body).toMatchObject({ event: 'message', mode: 'completion', answer: 'Say  please' });
    expect(body).not.toHaveProperty('conversation_id');
  });

  it('when a workflow app runs, then every step ran and the end step maps the outputs', async () => {
    const { appId, token } = await appOf('workflow');
    const res = await post(server, path('workflow', appId), token, { inputs: { name: 'Ada' } });
    const body = await res.json();
    expect(res.status).toBe(200);
    expectMatchesSpec('post', RUN_PATHS.workflow, 200, body);
    expect(body.workflow_run_id).toBe(body.data.id);
    expect(body.data).toMatchObject({ status: 'succeeded', outputs: { greeting: 'Hello, Ada!', answer: 'Hello, Ada! again' }, error: null, total_steps: 3 });
    expect(body.data.total_tokens).toBe(6);
    const [row] = await server.db.query<{ status: string; steps: unknown[] }>('SELECT status, steps FROM workflow_runs WHERE id = $1', [body.data.id]);
    expect(row!.status).toBe('succeeded');
    expect(row!.steps).toHaveLength(3);
  });
});

describe('audit', () => {
  it('when a run finishes, then one app.run.openapi event names the app, subject, token, mode and status', async () => {
    const { account, appId, token } = await appOf('completion');
    expect((await post(server, path('completion', appId), token, { inputs: {} })).status).toBe(200);
    const runs = logged.events.filter((e) => e.event === 'app.run.openapi' && e.app_id === appId);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ app_id: appId, subject: `account:${account.id}`, mode: 'completion', status: 'succeeded' });
    expect(runs[0]!.token_id).toEqual(expect.any(String));
    expect(runs[0]!.elapsed_ms).toEqual(expect.any(Number));
    // The audit line is written by the real logger, and the bearer token never reaches it.
    expect(logged.lines.some((l) => l.includes(token))).toBe(false);
  });
});

describe('streaming runs', () => {
  it('when a chat app streams, then message deltas that add up to the answer, then message_end, all per the spec', async () => {
    const { appId, token } = await appOf('chat');
    const events = await readEvents(await post(server, path('chat', appId), token, { inputs: {}, query: 'one two three', response_mode: 'streaming' }));
    expectEventsMatchSpec(RUN_PATHS.chat, events);
    const deltas = events.filter((e) => e.event === 'message');
    expect(deltas).toHaveLength(3);
    expect(deltas.map((e) => e.answer).join('')).toBe('one two three');
    const end = events.at(-1)!;
    expect(end).toMatchObject({ event: 'message_end', metadata: { usage: { completion_tokens: 3 } } });
    expect(new Set(events.map((e) => e.task_id)).size).toBe(1);
    expect(end.conversation_id).toBe(deltas[0]!.conversation_id);
  });

  it('when a completion app streams, then the same events without conversation_id', async () => {
    const { appId, token } = await appOf('completion');
    const events = await readEvents(await post(server, path('completion', appId), token, { inputs: {}, response_mode: 'streaming' }));
    expectEventsMatchSpec(RUN_PATHS.completion, events);
    expect(events.map((e) => e.event)).toEqual(['message', 'message', 'message_end']);
    expect(events.every((e) => !('conversation_id' in e))).toBe(true);
  });

  it('when a workflow app streams, then workflow_started, a started/finished pair per step, then workflow_finished', async () => {
    const { appId, token } = await appOf('workflow');
    const events = await readEvents(await post(server, path('workflow', appId), token, { inputs: { name: 'Ada' }, response_mode: 'streaming' }));
    expectEventsMatchSpec(RUN_PATHS.workflow, events);
    expect(events.map((e) => e.event)).toEqual([
      'workflow_started',
      ...['node_started', 'node_finished', 'node_started', 'node_finished', 'node_started', 'node_finished'],
      'workflow_finished',
    ]);
    expect(events.at(-1)!.data).toMatchObject({ status: 'succeeded', outputs: { answer: 'Hello, Ada! again' } });
  });
});

describe('route guards', () => {
  it.each([
    ['chat', 'completion'],
    ['completion', 'workflow'],
    ['workflow', 'chat'],
  ] as const)('when a %s route is called on a %s app, then 400 app_mode_mismatch', async (route, mode) => {
    const { appId, token } = await appOf(mode);
    const res = await post(server, path(route, appId), token, route === 'chat' ? { inputs: {}, query: 'hi' } : { inputs: {} });
    const body = await res.json();
    expect(res.status).toBe(400);
    expect(body.error).toBe('app_mode_mismatch');
    expectMatchesSpec('post', RUN_PATHS[route], 400, body);
  });

  it('when an API key has only apps:read, then the run routes answer 403 insufficient_scope and history is readable', async () => {
    const { account, appId } = await appOf('chat');
    const key = await createApiKey(server.db, account.id, ['apps:read']);
    for (const [p, body] of [
      [path('chat', appId), { inputs: {}, query: 'hi' }],
      [`/apps/${appId}/tasks/${crypto.randomUUID()}/stop`, {}],
    ] as const) {
      const res = await post(server, p, key, body);
      expect(res.status).toBe(403);
      expect(res.headers.get('www-authenticate')).toContain('scope="apps:run"');
      expect((await res.json()).error).toBe('insufficient_scope');
    }
    expect((await get(server, `/apps/${appId}/conversations`, key)).status).toBe(200);
  });

  it('when the body has an unknown field, then 400 from request validation', async () => {
    const { appId, token } = await appOf('chat');
    const res = await post(server, path('chat', appId), token, { inputs: {}, query: 'hi', files: [] });
    expect(res.status).toBe(400);
  });
});

describe('the seeded demo apps', () => {
  it('when each demo app config runs on echo, then it succeeds', async () => {
    const account = await createAccount(server.db);
    const ws = await createWorkspace(server.db, account.id);
    const token = await mintToken(server, account);
    const byMode: Record<string, string> = {};
    for (const a of DEMO_APPS) byMode[a.mode] = await createTestApp(server.db, ws, a);
    const chat = await post(server, path('chat', byMode.chat!), token, { inputs: { tone: 'friendly' }, query: 'hi' });
    expect(chat.status).toBe(200);
    expect((await chat.json()).answer).toBe('(Built-in echo model: it repeats your message.) hi');
    const completion = await post(server, path('completion', byMode.completion!), token, { inputs: { topic: 'tides' } });
    expect((await completion.json()).answer).toBe('Summarise tides in one line.');
    const workflow = await post(server, path('workflow', byMode.workflow!), token, { inputs: { name: 'Ada' } });
    expect((await workflow.json()).data.outputs).toEqual({ greeting: 'Hello, Ada!', answer: 'Hello, Ada!' });
  });
});
