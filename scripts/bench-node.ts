/**
 * Two baselines for `npm run bench` on plain node:http, nothing else in front:
 * - the ceiling (no REDIS_URL): GET /me answers /me's JSON body (BENCH_BODY), no work at all;
 * - the one-round-trip floor (REDIS_URL set): GET /me hashes the bearer token and makes one
 *   Redis script call, which reads the cached identity and applies the sliding-window rate
 *   limit (trim, count, admit, expire: Tessera's script), then answers the identity as JSON.
 *   Nothing a server can do for an authenticated, rate-limited answer costs less than one
 *   round trip, so this is the floor a warm /me is measured against.
 * ioredis is set up as Tessera's store is (auto-pipelining on). BENCH_TOKEN is the one valid token.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Redis } from 'ioredis';

const LIMIT = 1_000_000;
const WINDOW_MS = 60_000;
const IDENTITY_AND_WINDOW = `
local identity = redis.call('GET', KEYS[1])
if not identity then return false end
local key = KEYS[2]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count >= limit then return {0, identity} end
redis.call('ZADD', key, now, now .. ':' .. ARGV[3])
redis.call('PEXPIRE', key, window)
return {1, identity}`;

const body = process.env.BENCH_BODY ?? '{}';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const instance = randomBytes(6).toString('base64url');
let sequence = 0;

function answer(res: ServerResponse, status: number, text: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

type Limited = Redis & { identityAndWindow(identity: string, window: string, ...args: (string | number)[]): Promise<[number, string] | null> };

function floor(redis: Limited) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const header = req.headers.authorization ?? '';
    const hash = sha256(header.startsWith('Bearer ') ? header.slice(7) : '');
    redis.identityAndWindow(`api_token:${hash}`, `rl:{${hash}}`, LIMIT, WINDOW_MS, `${instance}${++sequence}`).then(
      (r) => (!r ? answer(res, 401, '{"error":"invalid_token"}') : r[0] === 1 ? answer(res, 200, r[1]) : answer(res, 429, '{"error":"rate_limited"}')),
      () => answer(res, 503, '{"error":"service_unavailable"}'),
    );
  };
}

let handle = (_req: IncomingMessage, res: ServerResponse) => answer(res, 200, body);
if (process.env.REDIS_URL) {
  const redis = new Redis(process.env.REDIS_URL, { enableAutoPipelining: true });
  redis.defineCommand('identityAndWindow', { numberOfKeys: 2, lua: IDENTITY_AND_WINDOW });
  await redis.set(`api_token:${sha256(process.env.BENCH_TOKEN!)}`, body);
  handle = floor(redis as Limited);
}
const server = createServer(handle).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('ready'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
