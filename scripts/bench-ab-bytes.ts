/**
 * A/B for a change on the way requests are served (docs/performance.md): two builds of Tessera
 * side by side on one Redis and one database, as in production (dist/, NODE_ENV=production),
 * each sent the same odd requests (test/helpers/odd-targets.ts: odd targets, methods, tokens,
 * origins) on a connection of its own, and the answers compared byte for byte (the Date and
 * the shared rate limit's count blanked). Prints every difference; exits 1 when there is one.
 *
 *   AB_A=/path/to/other/checkout (built with npm run build)  AB_B=. (default)
 */
import path from 'node:path';
import { exchange, normalized, oddRequests } from '../test/helpers/odd-targets.ts';
import { ensureBuilt, ROOT, seed, startRedis, startTessera } from './bench-kit.ts';

const ORIGIN = 'https://console.example';

async function main() {
  if (!process.env.AB_A) throw new Error('AB_A: the directory of the other build (a checkout where npm run build has run)');
  ensureBuilt();
  const { dbUrl, token, appId } = await seed();
  const redisPort = await startRedis();
  // One public URL for both, so that the issuer and the pages' links are the same.
  const env = { OPENAPI_CORS_ALLOW_ORIGINS: ORIGIN, PUBLIC_URL: 'http://tessera.example' };
  const a = await startTessera({ dbUrl, redisPort, dir: path.resolve(process.env.AB_A), env });
  const b = await startTessera({ dbUrl, redisPort, dir: path.resolve(process.env.AB_B ?? ROOT), env });
  const port = (base: string) => Number(new URL(base).port);
  const requests = oddRequests({ token, appId, origin: ORIGIN });
  const statuses: Record<string, number> = {};
  let differ = 0;
  for (const r of requests) {
    const [x, y] = [normalized(await exchange(port(a.base), r), r), normalized(await exchange(port(b.base), r), r)];
    const status = x.slice(9, 12);
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (x === y) continue;
    differ++;
    console.log(`${r.method} ${r.target} ${JSON.stringify(r.headers)}\n--- A\n${x}\n--- B\n${y}\n`);
  }
  console.log(`${requests.length} requests, ${differ} answers differ; statuses ${JSON.stringify(statuses)}`);
  process.exit(differ === 0 ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
