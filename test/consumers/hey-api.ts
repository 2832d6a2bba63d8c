// A consumer's session through the client @hey-api/openapi-ts generates. The test copies this
// file next to the generated code (`./hey/`) and compiles both with tsc --strict before running it.
import { client } from './hey/client.gen.js';
import { createChatMessage, getAppInfo, getMe, listApps, streamChatMessage } from './hey/sdk.gen.js';
import type { ChatStreamEvent } from './hey/types.gen.js';
import type { Session } from './session.js';

export async function session(baseUrl: string, token: string, appId: string, missingAppId: string): Promise<Session> {
  client.setConfig({ baseUrl, auth: () => token });

  const me = await getMe({ throwOnError: true });
  const apps = await listApps({ query: { limit: 50 }, throwOnError: true });
  const info = await getAppInfo({ path: { app_id: appId }, throwOnError: true });

  const blocking = await createChatMessage({ path: { app_id: appId }, body: { inputs: {}, query: 'hello typed world' }, throwOnError: true });

  // A run is not idempotent: one attempt, no reconnects.
  const { stream } = await streamChatMessage({
    path: { app_id: appId },
    body: { inputs: {}, query: 'one two three', response_mode: 'streaming' },
    sseMaxRetryAttempts: 1,
  });
  let answer = '';
  let tokens = -1;
  const events: ChatStreamEvent['event'][] = [];
  for await (const e of stream) {
    events.push(e.event);
    if (e.event === 'message') answer += e.answer;
    else if (e.event === 'message_end') tokens = e.metadata.usage.total_tokens;
    else if (e.event === 'error') throw new Error(`${e.code}: ${e.message}`);
  }

  const missing = await getAppInfo({ path: { app_id: missingAppId } });
  if (!missing.error) throw new Error('an unknown app was found');

  return {
    me: me.data.email ?? '',
    apps: apps.data.total,
    appName: info.data.name,
    blocking: { answer: blocking.data.answer, conversation: blocking.data.conversation_id },
    streamed: { answer, tokens, events },
    missing: { status: missing.response?.status ?? 0, error: missing.error.error },
  };
}
