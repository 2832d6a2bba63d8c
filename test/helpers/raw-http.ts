import { Agent, request, type IncomingHttpHeaders } from 'node:http';

export interface RawRequest {
  method: string;
  /** Sent byte for byte: no URL normalisation, unlike fetch (which resolves `%2e%2e` and friends). */
  path: string;
  headers?: Record<string, string | string[]>;
  body?: Buffer | string;
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A fresh connection per request, so an early answer to a half-sent body never poisons the next request. */
export const noKeepAlive = new Agent({ keepAlive: false, maxSockets: 64 });

/** One request over node:http, bounded by `timeoutMs` (a hang is an error, not a slow test). */
export function rawRequest(baseUrl: string, r: RawRequest, timeoutMs = 15_000): Promise<RawResponse> {
  const u = new URL(baseUrl);
  // node:http frames a body for DELETE (and GET) only when told its length.
  const headers = r.body === undefined ? r.headers : { 'content-length': String(Buffer.byteLength(r.body)), ...r.headers };
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method: r.method, path: r.path, headers, agent: noKeepAlive }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(r.body);
  });
}

/** Runs `work` over `items` with at most `concurrency` in flight. */
export async function inPool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
