/**
 * The peer for `npm run bench`: Dify's hot path for an API call, rebuilt on express 5.
 * Per request, two Redis round trips, one after the other: a cache GET of the caller's
 * identity by token hash (a miss is a 401 here; Dify would go to its database), then a
 * sliding-window rate limit as one Lua script over a sorted set (trim, count, admit,
 * expire). It answers the identity as JSON: the same body as Tessera's /me.
 * ioredis is set up as Tessera's store is (auto-pipelining on), so the peer is not
 * handicapped by its client. BENCH_BODY is the body, BENCH_TOKEN the one valid token.
 */
import { createHash, randomBytes } from 'node:crypto';
import express from 'express';
import { Redis } from 'ioredis';

const LIMIT = 1_000_000;
const WINDOW_MS = 60_000;
const SLIDING_WINDOW = `
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
local count = redis.call('ZCARD', KEYS[1])
if count >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

const redis = new Redis(process.env.REDIS_URL!, { enableAutoPipelining: true });
redis.defineCommand('slidingWindow', { numberOfKeys: 1, lua: SLIDING_WINDOW });
const limiter = redis as Redis & { slidingWindow(key: string, ...args: (string | number)[]): Promise<number> };
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const instance = randomBytes(6).toString('base64url');
let sequence = 0;

const token = process.env.BENCH_TOKEN!;
await redis.set(`api_token:${sha256(token)}`, process.env.BENCH_BODY ?? '{}');

const app = express();
app.get('/me', async (req, res, next) => {
  try {
    const header = req.get('authorization') ?? '';
    const hash = sha256(header.startsWith('Bearer ') ? header.slice(7) : '');
    const cached = await redis.get(`api_token:${hash}`);
    if (!cached) return void res.status(401).json({ error: 'invalid_token' });
    const allowed = await limiter.slidingWindow(`rl:${hash}`, Date.now(), WINDOW_MS, LIMIT, `${instance}${++sequence}`);
    if (!allowed) return void res.status(429).json({ error: 'rate_limited' });
    res.json(JSON.parse(cached));
  } catch (err) {
    next(err);
  }
});
const server = app.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('ready'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
