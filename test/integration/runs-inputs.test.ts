import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, createTestApp, createWorkspace, mintToken } from '../helpers/fixtures.ts';
import { completionConfig, post, RUN_PATHS } from '../helpers/runs.ts';
import { toApiError } from '../../src/http/error-mapper.ts';
import { InvalidDataError } from '../../src/storage/db.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { expectMatchesSpec } from '../helpers/spec.ts';

let server: TestServer;
let token: string;
let appId: string;
beforeAll(async () => {
  server = await startServer();
  const account = await createAccount(server.db);
  const ws = await createWorkspace(server.db, account.id);
  token = await mintToken(server, account);
  appId = await createTestApp(server.db, ws, {
    mode: 'completion',
    config: completionConfig(undefined, [
      { variable: 'word', label: 'Word', type: 'text', required: true, max_length: 5 },
      { variable: 'tone', label: 'Tone', type: 'select', options: ['plain', 'friendly'] },
      { variable: 'count', label: 'Count', type: 'number' },
      { variable: 'notes', label: 'Notes', type: 'paragraph', max_length: 20 },
    ]),
  });
});
afterAll(() => server.close());

const run = (inputs: Record<string, unknown>, response_mode = 'blocking') =>
  post(server, RUN_PATHS.completion.replace('{app_id}', appId), token, { inputs, response_mode });

describe('run inputs are validated against the app input schema before anything runs', () => {
  it.each([
    ['a required input is missing', {}, 'word', 'is required'],
    ['a required input is empty', { word: '' }, 'word', 'is required'],
    ['a text input is too long', { word: 'toolong' }, 'word', 'at most 5'],
    ['a paragraph is too long', { word: 'ok', notes: 'x'.repeat(21) }, 'notes', 'at most 20'],
    ['a select value is not an option', { word: 'ok', tone: 'angry' }, 'tone', 'one of: plain, friendly'],
    ['a number input is not a number', { word: 'ok', count: 'many' }, 'count', 'must be a number'],
    ['an input is not declared', { word: 'ok', wrod: 'typo' }, 'wrod', 'not an input'],
    ['a text input holds a NUL character', { word: 'a\u0000b' }, 'word', 'must not contain NUL'],
  ])('when %s, then 400 invalid_request with details naming the variable', async (_what, inputs, variable, message) => {
    const before = await server.db.query('SELECT 1 FROM messages WHERE app_id = $1', [appId]);
    const res = await run(inputs);
    const body = await res.json();
    expect(res.status).toBe(400);
    expectMatchesSpec('post', RUN_PATHS.completion, 400, body);
    expect(body.error).toBe('invalid_request');
    expect(body.details).toContainEqual({ path: `/body/inputs/${variable}`, message: expect.stringContaining(message) });
    const after = await server.db.query('SELECT 1 FROM messages WHERE app_id = $1', [appId]);
    expect(after.length).toBe(before.length);
  });

  it('when streaming is asked with bad inputs, then still a plain 400 (nothing was streamed)', async () => {
    const res = await run({}, 'streaming');
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
  });

  it('when the inputs are valid, then numbers given as strings are accepted and the prompt renders', async () => {
    const res = await run({ word: 'hi', tone: 'plain', count: '3' });
    expect(res.status).toBe(200);
    expect((await res.json()).answer).toBe('Say hi please');
  });
});

describe('a NUL character that Postgres cannot store', () => {
  it('when the query holds one, then 400 invalid_request naming query, in both response modes, and nothing is stored', async () => {
    const account = await createAccount(server.db);
    const ws = await createWorkspace(server.db, account.id);
    const chatId = await createTestApp(server.db, ws);
    const chatToken = await mintToken(server, account);
    for (const response_mode of ['blocking', 'streaming']) {
      const res = await post(server, RUN_PATHS.chat.replace('{app_id}', chatId), chatToken, { inputs: {}, query: 'hi\u0000there', response_mode });
      expect(res.status).toBe(400);
      const body = await res.json();
      expectMatchesSpec('post', RUN_PATHS.chat, 400, body);
      expect(body.details).toEqual([{ path: '/body/query', message: 'query must not contain NUL characters' }]);
    }
    expect(await server.db.query('SELECT 1 FROM conversations WHERE app_id = $1', [chatId])).toEqual([]);
  });

  it('when a value reaches Postgres anyway, then the data error is a 400, not a 500', async () => {
    const err = await server.db.query('SELECT $1::text AS t', ['a\u0000b']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidDataError);
    expect(toApiError(err, server.app.services.log, 'rid')).toMatchObject({ status: 400, code: 'invalid_request' });
  });
});
