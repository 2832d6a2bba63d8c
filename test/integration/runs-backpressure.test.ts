import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, createTestApp, createWorkspace, mintToken } from '../helpers/fixtures.ts';
import { until } from '../helpers/processes.ts';
import { chatConfig, expectEventsMatchSpec, post, readEvents, RUN_PATHS, type RunEvent } from '../helpers/runs.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
// The same with a stall timeout no pause of a loaded machine reaches, for the reader that is slow but alive.
let patient: TestServer;
let appId: string;
let token: string;
beforeAll(async () => {
  server = await startServer({ config: { sseStallTimeoutMs: 300 } });
  patient = await startServer({ db: server.db, config: { sseStallTimeoutMs: 30_000 } });
  const account = await createAccount(server.db);
  const ws = await createWorkspace(server.db, account.id);
  appId = await createTestApp(server.db, ws, { mode: 'chat', config: chatConfig() });
  token = await mintToken(server, account);
});
afterAll(async () => {
  await patient.close();
  await server.close();
});

// The echo model answers one event per word: 50,000 words are ~10 MB of events.
const bigQuery = 'w '.repeat(50_000);

/** A raw HTTP client that sends a streaming run and then never reads a byte. */
function neverReadingClient(query: string): Socket {
  const body = JSON.stringify({ inputs: {}, query, response_mode: 'streaming' });
  const { port } = new URL(server.url);
  const socket = connect(Number(port), '127.0.0.1');
  socket.pause();
  socket.write(
    `POST /openapi/v1${RUN_PATHS.chat.replace('{app_id}', appId)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  return socket;
}

const status = async () =>
  (await server.db.one<{ status: string; answer: string }>('SELECT status, answer FROM messages WHERE app_id = $1 ORDER BY created_at DESC LIMIT 1', [appId])) ?? {
    status: 'none',
    answer: '',
  };

describe('streaming backpressure', () => {
  it('when a streaming client never reads, then the run waits for it, gives up after the stall timeout and is recorded as stopped with a partial answer', async () => {
    const socket = neverReadingClient(bigQuery);
    try {
      await until(async () => !['none', 'running'].includes((await status()).status), 'the run to end', 20_000, 50);
      const row = await status();
      expect(row.status).toBe('stopped');
      // Far less than the whole answer was produced: the model waited for the reader.
      expect(row.answer.length).toBeGreaterThan(0);
      expect(row.answer.length).toBeLessThan(bigQuery.length / 2);
      // The partial answer is every delta produced, in order (kept as folded text, not one string a delta).
      expect(bigQuery.startsWith(row.answer)).toBe(true);
    } finally {
      socket.destroy();
    }
  });

  it('when a client reads slowly, then it still gets every event, in order, and message_end', async () => {
    const query = 'slow '.repeat(20_000);
    const res = await post(patient, RUN_PATHS.chat.replace('{app_id}', appId), token, { inputs: {}, query, response_mode: 'streaming' });
    let reads = 0;
    const events: RunEvent[] = await readEvents(
      new Response(
        new ReadableStream({
          async start(controller) {
            for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
              // Pause now and then: the writer waits for this reader (backpressure) and loses nothing.
              if (++reads % 20 === 0) await new Promise((r) => setTimeout(r, 100));
              controller.enqueue(chunk);
            }
            controller.close();
          },
        }),
        { headers: res.headers },
      ),
    );
    expect(events.filter((e) => e.event === 'message').map((e) => e.answer).join('')).toBe(query);
    expect(events.at(-1)!.event).toBe('message_end');
    expectEventsMatchSpec(RUN_PATHS.chat, events.slice(-3));
    expect((await status()).status).toBe('succeeded');
  });
});
