import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateTrustedIssuers } from '../../src/auth/jwt/trusted-issuers.ts';
import { createTestApp, createWorkspace } from '../helpers/fixtures.ts';
import { nowSec } from '../helpers/jwt-server.ts';
import { jwksOf, makeKey, mint, type TestKey } from '../helpers/jwks.ts';
import { startOpenAiStub, type OpenAiStub } from '../helpers/openai-stub.ts';
import { chatConfig, get, post, readEvents, RUN_PATHS, stubModel, type RunEvent } from '../helpers/runs.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

// Two trusted gateways built to collide: `external:<issuer>:<subject>` used to be the same
// owner for (https://gw.example, 8443:alice) and (https://gw.example:8443, alice).
const SHORT = 'https://gw.example';
const PORTED = 'https://gw.example:8443';
const AUD = 'https://tessera.test';

let stub: OpenAiStub;
let server: TestServer;
let key: TestKey;
let workspace: string;
beforeAll(async () => {
  key = await makeKey('ES256', 'gw-1');
  stub = await startOpenAiStub();
  const entry = (issuer: string) => ({ issuer, kind: 'gateway', jwks: jwksOf(key), audience: AUD, algorithms: ['ES256'], allowed_scopes: ['apps:read', 'apps:run'] });
  const trustedJwtIssuers = validateTrustedIssuers([entry(SHORT), entry(PORTED)], { allowInsecureHttp: false });
  server = await startServer({ config: { edition: 'enterprise', trustedJwtIssuers, openai: { baseUrl: stub.url, apiKey: null }, providerTimeoutMs: 5_000 } });
  workspace = await createWorkspace(server.db);
});
afterAll(async () => {
  await server.close();
  await stub.close();
});

const token = (iss: string, sub: string) =>
  mint(key, { iss, sub, aud: AUD, scope: 'apps:read apps:run', tessera_workspace: workspace, iat: nowSec(), exp: nowSec() + 300 });
/** The two colliding callers, with fresh tokens. */
const callers = async () => ({ alice: await token(SHORT, '8443:alice'), impostor: await token(PORTED, 'alice') });
const stop = (appId: string, taskId: string, bearer: string) => post(server, `/apps/${appId}/tasks/${taskId}/stop`, bearer, {});

describe('owners built from (issuer, subject) pairs', () => {
  it('when two trusted issuers and subjects concatenate to the same text, then each has its own history', async () => {
    const { alice, impostor } = await callers();
    const appId = await createTestApp(server.db, workspace, { config: chatConfig() });
    const run = await post(server, RUN_PATHS.chat.replace('{app_id}', appId), alice, { inputs: {}, query: 'my secret plans' });
    expect(run.status).toBe(200);
    const { conversation_id } = (await run.json()) as { conversation_id: string };
    const [row] = await server.db.query<{ subject: string }>('SELECT subject FROM conversations WHERE id = $1', [conversation_id]);
    expect(row!.subject).toBe('external:https%3A//gw.example:8443%3Aalice');

    const mine = await (await get(server, `/apps/${appId}/conversations`, alice)).json();
    expect(mine.total).toBe(1);
    const theirs = await (await get(server, `/apps/${appId}/conversations`, impostor)).json();
    expect(theirs.total).toBe(0);
    expect((await get(server, `/apps/${appId}/conversations/${conversation_id}/messages`, impostor)).status).toBe(404);
    const continued = await post(server, RUN_PATHS.chat.replace('{app_id}', appId), impostor, { inputs: {}, query: 'go on', conversation_id });
    expect(continued.status).toBe(404);
  });

  it('when one of two colliding subjects runs a task, then only that subject can stop it', async () => {
    const { alice, impostor } = await callers();
    const appId = await createTestApp(server.db, workspace, { config: chatConfig(stubModel('stub-slow')) });
    const res = await post(server, RUN_PATHS.chat.replace('{app_id}', appId), alice, { inputs: {}, query: 'go', response_mode: 'streaming' });
    let decided: Promise<number[]> | null = null;
    const events = await readEvents(res, (e: RunEvent) => {
      if (e.event !== 'message' || decided) return;
      decided = (async () => {
        const denied = await stop(appId, e.task_id, impostor);
        const allowed = await stop(appId, e.task_id, alice);
        return [denied.status, allowed.status];
      })();
    });
    expect(await decided!).toEqual([404, 200]);
    // Stopped by its owner well before the slow model's 300 words.
    expect(events.filter((e) => e.event === 'message').length).toBeLessThan(300);
    expect(events.at(-1)?.event).toBe('message_end');
  });
});
