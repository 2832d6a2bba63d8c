import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, createAccount, createTestApp, createWorkspace, mintToken } from '../helpers/fixtures.ts';
import { chatConfig, get, post, RUN_PATHS } from '../helpers/runs.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { expectMatchesSpec } from '../helpers/spec.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

/** One chat app in a workspace with two members, each with a token. */
async function sharedChat() {
  const alice = await createAccount(server.db);
  const bob = await createAccount(server.db);
  const ws = await createWorkspace(server.db, alice.id);
  await addMember(server.db, bob.id, ws);
  const appId = await createTestApp(server.db, ws, { mode: 'chat', config: chatConfig() });
  return { appId, alice: await mintToken(server, alice), bob: await mintToken(server, bob) };
}
const chat = (appId: string, token: string, body: object) => post(server, RUN_PATHS.chat.replace('{app_id}', appId), token, { inputs: {}, ...body });

describe('chat history', () => {
  it('when a second message names the conversation, then it continues it and the history lists both, oldest first', async () => {
    const { appId, alice } = await sharedChat();
    const first = await (await chat(appId, alice, { query: 'first question' })).json();
    const second = await (await chat(appId, alice, { query: 'second question', conversation_id: first.conversation_id })).json();
    expect(second.conversation_id).toBe(first.conversation_id);
    // The earlier turn was sent to the model: system (3) + first q (2) + first answer (2) + second q (2) words.
    expect(second.metadata.usage.prompt_tokens).toBe(9);

    const list = await get(server, `/apps/${appId}/conversations`, alice);
    const conversations = await list.json();
    expect(list.status).toBe(200);
    expectMatchesSpec('get', '/apps/{app_id}/conversations', 200, conversations);
    expect(conversations).toMatchObject({ total: 1, page: 1, has_more: false, data: [{ id: first.conversation_id, name: 'first question' }] });

    const res = await get(server, `/apps/${appId}/conversations/${first.conversation_id}/messages`, alice);
    const messages = await res.json();
    expectMatchesSpec('get', '/apps/{app_id}/conversations/{conversation_id}/messages', 200, messages);
    expect(messages.total).toBe(2);
    expect(messages.data.map((m: { query: string }) => m.query)).toEqual(['first question', 'second question']);
    expect(messages.data[1]).toMatchObject({ id: second.id, answer: 'second question', status: 'succeeded' });
  });

  it("when another subject reads or continues a conversation, then 404 not_found and it is not in their list", async () => {
    const { appId, alice, bob } = await sharedChat();
    const first = await (await chat(appId, alice, { query: 'private' })).json();
    const read = await get(server, `/apps/${appId}/conversations/${first.conversation_id}/messages`, bob);
    expect(read.status).toBe(404);
    const body = await read.json();
    expect(body.error).toBe('not_found');
    expectMatchesSpec('get', '/apps/{app_id}/conversations/{conversation_id}/messages', 404, body);

    const cont = await chat(appId, bob, { query: 'hijack', conversation_id: first.conversation_id });
    expect(cont.status).toBe(404);
    expect((await cont.json()).error).toBe('not_found');
    expect((await (await get(server, `/apps/${appId}/conversations`, bob)).json()).total).toBe(0);
    const [{ n }] = (await server.db.query<{ n: string }>('SELECT count(*) AS n FROM messages WHERE conversation_id = $1', [first.conversation_id])) as [{ n: string }];
    expect(Number(n)).toBe(1);
  });

  it('when a conversation id is unknown, then 404', async () => {
    const { appId, alice } = await sharedChat();
    expect((await chat(appId, alice, { query: 'x', conversation_id: crypto.randomUUID() })).status).toBe(404);
    expect((await get(server, `/apps/${appId}/conversations/${crypto.randomUUID()}/messages`, alice)).status).toBe(404);
  });
});
