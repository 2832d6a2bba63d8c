// A consumer's session through the client orval generates with sdk/orval.config.ts. The test copies
// this file next to the generated code (`./orval/`) and compiles both with tsc --strict before running it.
import type { ChatStreamEvent, ErrorBody } from './orval/tessera.js';
import { createChatMessage, getAppInfo, getMe, listApps, streamChatMessage } from './orval/tessera.js';
import type { Session } from './session.js';

export async function session(baseUrl: string, token: string, appId: string, missingAppId: string): Promise<Session> {
  process.env.TESSERA_BASE_URL = baseUrl;
  const auth = { headers: { Authorization: `Bearer ${token}` } };
  const ok = <R extends { status: number }>(r: R): Extract<R, { status: 200 }> => {
    if (r.status !== 200) throw new Error(`unexpected ${r.status}`);
    return r as Extract<R, { status: 200 }>;
  };

  const me = ok(await getMe(auth));
  const apps = ok(await listApps({ limit: 50 }, auth));
  const info = ok(await getAppInfo(appId, auth));

  const blocking = ok(await createChatMessage(appId, { inputs: {}, query: 'hello typed world' }, auth));

  const streamed = await streamChatMessage(appId, { inputs: {}, query: 'one two three', response_mode: 'streaming' }, auth);
  if (streamed.status !== 200) throw new Error(`stream refused: ${streamed.status} ${streamed.data.error}`);
  let answer = '';
  let tokens = -1;
  const events: ChatStreamEvent['event'][] = [];
  for await (const e of streamed.events) {
    events.push(e.event);
    if (e.event === 'message') answer += e.answer;
    else if (e.event === 'message_end') tokens = e.metadata.usage.total_tokens;
    else if (e.event === 'error') throw new Error(`${e.code}: ${e.message}`);
  }

  const missing = await getAppInfo(missingAppId, auth);
  if (missing.status !== 404) throw new Error(`expected 404, got ${missing.status}`);
  const error: ErrorBody = missing.data;

  return {
    me: me.data.email ?? '',
    apps: apps.data.total,
    appName: info.data.name,
    blocking: { answer: blocking.data.answer, conversation: blocking.data.conversation_id },
    streamed: { answer, tokens, events },
    missing: { status: missing.status, error: error.error },
  };
}
