import { createParser } from 'eventsource-parser';
import { expect } from 'vitest';
import type { TestServer } from './server.ts';
import { expectMatchesSpec } from './spec.ts';

export const echo = { provider: 'echo', name: 'echo-1' };
export const stubModel = (name: string) => ({ provider: 'openai', name });

export const chatConfig = (model: object = echo, input_schema: object[] = []) => ({
  model,
  system_prompt: 'You are terse.',
  prompt: '{{ query }}',
  input_schema,
});
export const completionConfig = (model: object = echo, input_schema: object[] = []) => ({ model, prompt: 'Say {{ word }} please', input_schema });
export const workflowConfig = (model: object = echo) => ({
  model,
  input_schema: [{ variable: 'name', label: 'Name', type: 'text', required: true, max_length: 50 }],
  steps: [
    { id: 'greet', type: 'template', template: 'Hello, {{ name }}!', output: 'greeting' },
    { id: 'reply', type: 'llm', prompt: '{{ greeting }} again', output: 'answer' },
    { id: 'finish', type: 'end', outputs: { greeting: 'greeting', answer: 'answer' } },
  ],
});

export const RUN_PATHS = {
  chat: '/apps/{app_id}/chat-messages',
  completion: '/apps/{app_id}/completion-messages',
  workflow: '/apps/{app_id}/workflows/run',
} as const;

export function post(server: TestServer, path: string, token: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(`${server.url}/openapi/v1${path}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    ...init,
  });
}

export async function get(server: TestServer, path: string, token: string): Promise<Response> {
  return fetch(`${server.url}/openapi/v1${path}`, { headers: { Authorization: `Bearer ${token}` } });
}

export type RunEvent = { event: string; task_id: string } & Record<string, unknown>;

/** Reads a whole SSE answer with eventsource-parser; each `data:` line is one JSON event. */
export async function readEvents(res: Response, onEvent: (e: RunEvent) => void = () => undefined): Promise<RunEvent[]> {
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  expect(res.headers.get('cache-control')).toBe('no-store');
  const events: RunEvent[] = [];
  const parser = createParser({
    onEvent(msg) {
      const e = JSON.parse(msg.data) as RunEvent;
      events.push(e);
      onEvent(e);
    },
  });
  const decoder = new TextDecoder();
  for await (const bytes of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(bytes, { stream: true }));
  return events;
}

/** Every event must match the operation's `text/event-stream` schema. */
export function expectEventsMatchSpec(path: string, events: RunEvent[]): void {
  for (const e of events) expectMatchesSpec('post', path, 200, e, 'text/event-stream');
}
