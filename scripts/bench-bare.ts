/**
 * Baselines for `npm run bench`, one express 5 app with nothing in front of its routes:
 * - GET /bare answers /me's JSON body (BENCH_BODY) with res.json;
 * - POST /stream calls the echo provider directly and writes each delta as an SSE
 *   `data:` event shaped like a chat run's, so time to first byte is the provider's plus
 *   HTTP, and what Tessera's chat stream adds on top can be told apart.
 * Served by `app.listen` (express's own server), unless BENCH_SERVER=tessera: then by the
 * server Tessera builds (src/server/http-server.ts), for npm run bench's BENCH_BARE_SERVER=1.
 */
import { randomUUID } from 'node:crypto';
import express from 'express';
import { echoProvider } from '../src/apps/providers/index.ts';
import { appServer } from '../src/server/http-server.ts';

const body = JSON.parse(process.env.BENCH_BODY ?? '{}');
const app = express();
app.get('/bare', (_req, res) => void res.json(body));
app.post('/stream', express.json(), async (req, res) => {
  const ids = { task_id: randomUUID(), message_id: randomUUID(), conversation_id: randomUUID() };
  const created_at = Math.floor(Date.now() / 1000);
  res.status(200).set({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store' });
  res.flushHeaders();
  const send = (event: unknown) => res.write(`data: ${JSON.stringify(event)}\n\n`);
  const { usage } = await echoProvider.complete({
    model: { provider: 'echo', name: 'echo-1', params: {} },
    messages: [{ role: 'user', content: String(req.body.query) }],
    signal: new AbortController().signal,
    onDelta: (answer) => void send({ event: 'message', ...ids, answer, created_at }),
  });
  send({ event: 'message_end', ...ids, metadata: { usage } });
  res.end();
});
const server = (process.env.BENCH_SERVER === 'tessera' ? appServer({ express: app, handler: app }).server : app).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('ready'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
