/**
 * The fastify peer for `npm run bench`: what a careful user would build on fastify 5 for
 * /me. @fastify/rate-limit with its Redis store (a fixed-window counter script, keyed by
 * the bearer token's hash, with its response headers), then a Redis GET of the caller's
 * identity cached by token hash (a miss is a 401). The identity is parsed, as a handler
 * that authorises anything with it must, and returned for fastify to serialise with the
 * response schema (fast-json-stringify, fastify's fast path), as the Dify peer answers with
 * res.json. Two Redis round trips, one after the other. Its logger is on at warn, as Tessera's
 * is in the bench; ioredis is set up as Tessera's store is (auto-pipelining on). BENCH_BODY is
 * the body, BENCH_TOKEN the one valid token.
 */
import { createHash } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
declare module 'fastify' {
  interface FastifyRequest {
    tokenHash: string;
  }
}
// The rate limit's key, kept on the request (fastify's decorateRequest) so the handler does not hash again.
const tokenHash = (req: FastifyRequest) => {
  const header = req.headers.authorization ?? '';
  req.tokenHash = sha256(header.startsWith('Bearer ') ? header.slice(7) : '');
  return req.tokenHash;
};

const redis = new Redis(process.env.REDIS_URL!, { enableAutoPipelining: true });
await redis.set(`api_token:${sha256(process.env.BENCH_TOKEN!)}`, process.env.BENCH_BODY ?? '{}');

// Logging on at warn, as Tessera runs in the bench (LOG_LEVEL=warn): a deployed server has its logger.
const app = Fastify({ logger: { level: 'warn' } });
app.decorateRequest('tokenHash', '');
await app.register(rateLimit, { redis, max: 1_000_000, timeWindow: 60_000, keyGenerator: tokenHash });
const text = { type: 'string' };
const maybeText = { type: ['string', 'null'] };
const principal = {
  type: 'object',
  properties: {
    sub: text,
    principal_type: text,
    email: maybeText,
    display_name: text,
    prefix: text,
    scopes: { type: 'array', items: text },
    expires_at: maybeText,
    subject_issuer: text,
    default_workspace_id: maybeText,
  },
};
app.get('/me', { schema: { response: { 200: principal, 401: { type: 'object', properties: { error: text } } } } }, async (req, reply) => {
  const cached = await redis.get(`api_token:${req.tokenHash}`);
  if (!cached) return reply.code(401).send({ error: 'invalid_token' });
  return JSON.parse(cached) as unknown;
});
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
console.log('ready');
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
