import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A tiny OpenAI-compatible `/chat/completions` server. Its behaviour is picked by
 * the requested model name, so one stub serves every app of a test file:
 * `stub-500` fails, `stub-hang` never answers, `stub-slow` streams a word every
 * 100 ms for 30 s, `stub-json` ignores `stream`, anything else streams the last
 * user message back word by word with usage.
 */
export interface OpenAiStub {
  url: string;
  requests: { model: string; messages: { role: string; content: string }[]; authorization: string | undefined; traceparent: string | undefined }[];
  /** Requests whose client went away before the answer ended. */
  aborted: number;
  close(): Promise<void>;
}

const chunk = (content: string) => `data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content } }] })}\n\n`;

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const part of req) text += String(part);
  return JSON.parse(text) as Record<string, unknown>;
}

export async function startOpenAiStub(): Promise<OpenAiStub> {
  const sockets = new Set<Socket>();
  const stub: OpenAiStub = { url: '', requests: [], aborted: 0, close: async () => undefined };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const model = String(body.model);
    const messages = body.messages as OpenAiStub['requests'][number]['messages'];
    stub.requests.push({ model, messages, authorization: req.headers.authorization, traceparent: req.headers.traceparent as string | undefined });
    res.on('close', () => {
      if (!res.writableFinished) stub.aborted++;
    });
    if (model === 'stub-hang') return;
    if (model === 'stub-500') return void res.writeHead(500, { 'Content-Type': 'application/json' }).end('{"error":{"message":"boom"}}');
    const last = [...messages].reverse().find((m) => m.role === 'user')?.content ?? '';
    const words = last.match(/\s*\S+\s*/g) ?? [];
    if (model === 'stub-json') {
      return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(
        JSON.stringify({ choices: [{ message: { role: 'assistant', content: last } }], usage: { prompt_tokens: 7, completion_tokens: 3 } }),
      );
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    if (model === 'stub-slow') {
      for (let i = 0; i < 300 && !res.destroyed; i++) {
        res.write(chunk(`tick${i} `));
        await new Promise((r) => setTimeout(r, 100));
      }
    } else {
      for (const w of words) res.write(chunk(w));
      res.write(`data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 11, completion_tokens: words.length } })}\n\n`);
    }
    res.end('data: [DONE]\n\n');
  };
  const server = createServer((req, res) => void handle(req, res));
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  stub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  stub.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return stub;
}
