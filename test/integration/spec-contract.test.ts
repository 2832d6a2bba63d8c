import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/storage/db.ts';
import { TEST_DATABASE_URL } from '../helpers/env.ts';
import { createAccount, createTestApp, createWorkspace, member, mintToken, uniq } from '../helpers/fixtures.ts';
import { chatConfig, completionConfig, readEvents, workflowConfig } from '../helpers/runs.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

// Responses the spec declares on every operation besides its own: 413, 415 and 500, and the
// streaming twins of the run routes. Every response here (as in every test) is also checked
// against openapi.yaml by the test server: status, headers and body must be declared.

let server: TestServer;
let m: Awaited<ReturnType<typeof member>>;
beforeAll(async () => {
  server = await startServer();
  m = await member(server);
});
afterAll(() => server.close());

const api = (path: string) => `${server.url}/openapi/v1${path}`;

describe('bodies the server refuses', () => {
  it('when a run body is text/plain, then 415 unsupported_media_type in the error shape', async () => {
    const res = await fetch(api(`/apps/${m.appId}/chat-messages`), {
      method: 'POST',
      headers: { ...m.auth, 'Content-Type': 'text/plain' },
      body: 'What can you do?',
    });
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ error: 'unsupported_media_type' });
  });

  it('when a JSON body has a Content-Encoding the server cannot undo, then 415, and a gzip body is read', async () => {
    const body = JSON.stringify({ inputs: {}, query: 'zipped' });
    const refused = await fetch(api(`/apps/${m.appId}/chat-messages`), {
      method: 'POST',
      headers: { ...m.auth, 'Content-Type': 'application/json', 'Content-Encoding': 'zstd' },
      body,
    });
    expect(refused.status).toBe(415);
    expect(await refused.json()).toMatchObject({ error: 'unsupported_media_type' });
    const gzipped = await fetch(api(`/apps/${m.appId}/chat-messages`), {
      method: 'POST',
      headers: { ...m.auth, 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' },
      body: gzipSync(body),
    });
    expect(gzipped.status).toBe(200);
    expect(await gzipped.json()).toMatchObject({ answer: 'zipped' });
  });

  it('when a body is over 1 MB, then 413 payload_too_large, on a POST and on a DELETE alike', async () => {
    const big = JSON.stringify({ inputs: {}, query: 'x'.repeat(1_100_000) });
    const post = await fetch(api(`/apps/${m.appId}/chat-messages`), { method: 'POST', headers: { ...m.auth, 'Content-Type': 'application/json' }, body: big });
    expect(post.status).toBe(413);
    expect(await post.json()).toMatchObject({ error: 'payload_too_large' });
    const del = await fetch(api('/me/sessions/self'), { method: 'DELETE', headers: { ...m.auth, 'Content-Type': 'application/json' }, body: big });
    expect(del.status).toBe(413);
    expect(await del.json()).toMatchObject({ error: 'payload_too_large' });
    // Nothing ran and the session is still there.
    expect((await fetch(api('/me'), { headers: m.auth })).status).toBe(200);
  });
});

describe('failures on the server side', () => {
  it('when the database has lost its schema, then 500 internal_error in the error shape, with no internals', async () => {
    const name = `tessera_noschema_${uniq()}`;
    const admin = new Database(TEST_DATABASE_URL, 1);
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(TEST_DATABASE_URL);
    url.pathname = `/${name}`;
    const broken = await startServer({ databaseUrl: url.toString(), store: 'memory' });
    try {
      const res = await fetch(`${broken.url}/openapi/v1/me`, { headers: m.auth });
      expect(res.status).toBe(500);
      const body = await res.json();
      expect(body).toEqual({ error: 'internal_error', message: 'Something went wrong on our side.', request_id: res.headers.get('x-request-id') });
      expect(JSON.stringify(body)).not.toMatch(/relation|sql|oauth_access_tokens/i);
    } finally {
      await broken.close();
      await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
      await admin.close();
    }
  });
});

describe('the streaming twins of the run routes', () => {
  const configs = { chat: chatConfig(), completion: completionConfig(), workflow: workflowConfig() };
  async function appOf(mode: keyof typeof configs) {
    const account = await createAccount(server.db);
    const ws = await createWorkspace(server.db, account.id);
    const appId = await createTestApp(server.db, ws, { mode, config: configs[mode] });
    return { appId, token: await mintToken(server, account) };
  }
  const stream = (path: string, token: string, body: unknown) =>
    fetch(api(path), { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

  it('when each …/stream route is called, then the same run streams its events, as its blocking twin does with response_mode streaming', async () => {
    const chat = await appOf('chat');
    const events = await readEvents(await stream(`/apps/${chat.appId}/chat-messages/stream`, chat.token, { inputs: {}, query: 'a b c', response_mode: 'streaming' }));
    expect(events.filter((e) => e.event === 'message').map((e) => e.answer).join('')).toBe('a b c');
    expect(events.at(-1)!.event).toBe('message_end');
    const twin = await readEvents(await stream(`/apps/${chat.appId}/chat-messages`, chat.token, { inputs: {}, query: 'a b c', response_mode: 'streaming' }));
    expect(twin.map((e) => e.event)).toEqual(events.map((e) => e.event));

    const completion = await appOf('completion');
    const done = await readEvents(await stream(`/apps/${completion.appId}/completion-messages/stream`, completion.token, { inputs: {}, response_mode: 'streaming' }));
    expect(done.at(-1)).toMatchObject({ event: 'message_end' });
    expect(done.some((e) => 'conversation_id' in e)).toBe(false);

    const workflow = await appOf('workflow');
    const steps = await readEvents(await stream(`/apps/${workflow.appId}/workflows/run/stream`, workflow.token, { inputs: { name: 'Ada' }, response_mode: 'streaming' }));
    expect(steps.map((e) => e.event)).toEqual(['workflow_started', 'node_started', 'node_finished', 'node_started', 'node_finished', 'node_started', 'node_finished', 'workflow_finished']);
  });

  it('when a …/stream route is asked for a blocking answer, then 400: its body requires response_mode streaming', async () => {
    for (const body of [{ inputs: {}, query: 'hi' }, { inputs: {}, query: 'hi', response_mode: 'blocking' }]) {
      const res = await stream(`/apps/${m.appId}/chat-messages/stream`, m.token, body);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid_request', details: [expect.objectContaining({ path: expect.stringContaining('response_mode') })] });
    }
  });
});
