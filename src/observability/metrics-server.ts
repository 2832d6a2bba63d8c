import { once } from 'node:events';
import http from 'node:http';
import type { Registry } from 'prom-client';

/**
 * The metrics listener: `GET /metrics` in the Prometheus text format, on its own port
 * (METRICS_PORT) so the public port never serves it and a firewall can keep it private.
 * Nothing else is served: other paths are 404, other methods on /metrics 405.
 */
export function metricsServer(registry: Registry): http.Server {
  return http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') return void res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found: metrics are at /metrics\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { Allow: 'GET, HEAD' }).end();
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'Content-Type': registry.contentType, 'Cache-Control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`metrics could not be collected: ${err instanceof Error ? err.message : String(err)}\n`);
      },
    );
  });
}

/** Listens on `host:port` (port 0: any free port); resolves with the server once it listens. */
export async function listenMetrics(registry: Registry, host: string, port: number): Promise<http.Server> {
  const server = metricsServer(registry);
  server.listen(port, host);
  await once(server, 'listening');
  return server;
}
