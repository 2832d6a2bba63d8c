/**
 * `npm run bench -- observability`: warm GET /openapi/v1/me with metrics on (METRICS_PORT,
 * scraped after every round) and traces exported over OTLP with 10 % of requests sampled
 * (OTEL_TRACES_SAMPLER=parentbased_traceidratio, OTEL_TRACES_SAMPLER_ARG=0.1), against the
 * same with both off (docs/performance.md). Two Tessera processes as in production (dist/,
 * NODE_ENV=production) on one database and one Redis; the OTLP endpoint is a sink in this
 * process that takes every export and keeps nothing. Rounds and ratios as
 * scripts/bench-pair.ts takes them.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ensureBuilt, freePort, redisPid, seed, startRedis, startTessera, tokens } from './bench-kit.ts';
import { benchPair, tokensNeeded } from './bench-pair.ts';

/** An OTLP/HTTP endpoint that answers every export with success and counts what came. */
async function otlpSink(): Promise<{ url: string; exports: Record<string, number> }> {
  const exports: Record<string, number> = {};
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      exports[req.url ?? ''] = (exports[req.url ?? ''] ?? 0) + 1;
      res.writeHead(200, { 'Content-Type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, exports };
}

export async function benchObservability(): Promise<void> {
  ensureBuilt();
  const { dbUrl } = await seed();
  const redisPort = await startRedis();
  const sink = await otlpSink();
  const metricsPort = await freePort();
  const off = await startTessera({ dbUrl, redisPort });
  const on = await startTessera({
    dbUrl,
    redisPort,
    env: { METRICS_PORT: String(metricsPort), OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' },
  });
  let scrapes = 0;
  await benchPair({
    name: 'observability target: warm GET /openapi/v1/me',
    sides: [
      { title: 'metrics and traces off', url: `${off.base}/openapi/v1/me`, pid: off.child.pid!, redisPids: [redisPid(redisPort)], tokens: await tokens(tokensNeeded()) },
      { title: 'metrics on, traces sampled at 10 %', url: `${on.base}/openapi/v1/me`, pid: on.child.pid!, redisPids: [redisPid(redisPort)], tokens: await tokens(tokensNeeded()) },
    ],
    target: 0.9,
    async afterRound() {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      if (!res.ok || !(await res.text()).includes('http_server_request_duration_seconds_count{method="GET",route="getMe",status_code="200"}')) throw new Error('the metrics side did not count /me');
      scrapes++;
    },
  });
  if (!sink.exports['/v1/traces']) throw new Error('the traced side exported no spans');
  console.log(`the traced side: ${scrapes} scrapes of /metrics, ${sink.exports['/v1/traces']} OTLP trace exports received`);
  process.exit(0);
}
