import type { IncomingMessage, OutgoingHttpHeaders, RequestListener, ServerResponse } from 'node:http';
import type { RecordedResponse } from './spec.ts';

/** Bodies beyond this are not kept (the check then treats the body as cut off). */
const MAX_BODY = 4 * 1024 * 1024;

type WriteHead = ServerResponse['writeHead'];

/**
 * Wraps a request listener so that every response it sends is handed to `onResponse` once
 * it is finished (or its connection closed): status, the headers as sent, and the body.
 */
export function recordResponses(listener: RequestListener, onResponse: (r: RecordedResponse) => void): RequestListener {
  return (req, res) => {
    watch(req, res, onResponse);
    listener(req, res);
  };
}

function watch(req: IncomingMessage, res: ServerResponse, onResponse: (r: RecordedResponse) => void): void {
  // Read now: routers rewrite req.url while they handle the request.
  const method = req.method ?? 'GET';
  const url = req.url ?? '/';
  const chunks: Buffer[] = [];
  let size = 0;
  let overflow = false;
  let sent: OutgoingHttpHeaders | undefined;

  const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
  res.writeHead = ((...args: unknown[]) => {
    // Headers given to writeHead itself are not kept by getHeaders(): merge them in first.
    const given = args.find((a, i) => i > 0 && typeof a === 'object' && a !== null) as OutgoingHttpHeaders | string[] | undefined;
    const merged: OutgoingHttpHeaders = { ...res.getHeaders() };
    if (Array.isArray(given)) for (let i = 0; i + 1 < given.length; i += 2) merged[given[i]!.toLowerCase()] = given[i + 1];
    else if (given) for (const [k, v] of Object.entries(given)) merged[k.toLowerCase()] = v;
    sent = merged;
    return writeHead(...args);
  }) as WriteHead;

  const keep = (chunk: unknown, encoding?: unknown) => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
    if (size + buf.length > MAX_BODY) overflow = true;
    else {
      chunks.push(buf);
      size += buf.length;
    }
  };
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  res.write = ((...args: unknown[]) => {
    keep(args[0], args[1]);
    return write(...args);
  }) as ServerResponse['write'];
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  res.end = ((...args: unknown[]) => {
    keep(args[0], args[1]);
    return end(...args);
  }) as ServerResponse['end'];

  let reported = false;
  const report = (finished: boolean) => {
    if (reported || !sent) return;
    reported = true;
    onResponse({
      method,
      url,
      status: res.statusCode,
      headers: sent,
      body: Buffer.concat(chunks),
      partial: overflow || !finished,
    });
  };
  res.once('finish', () => report(true));
  res.once('close', () => report(res.writableFinished));
}
