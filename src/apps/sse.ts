import type { Response } from 'express';

export interface EventSink<E> {
  send(event: E): void;
}

/** Blocking runs emit into nothing; the result is the return value. */
export const discard: EventSink<never> = { send() {} };

/**
 * Opens a `text/event-stream` answer: each event is one `data:` line of JSON
 * (docs/apps.md), with a `ping` on an interval so proxies keep an idle stream open.
 * Written with res.write, never res.json, so response validation (which hooks
 * res.json) is not involved; tests validate each event against the spec instead.
 */
export function openEventStream<E>(res: Response, taskId: string, pingMs: number): EventSink<E> & { close(): void } {
  res.status(200).set({
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    // nginx and similar proxies buffer responses unless told not to.
    'X-Accel-Buffering': 'no',
  });
  res.flushHeaders();
  const write = (event: unknown) => {
    if (!res.writableEnded && !res.destroyed) res.write(`data: ${JSON.stringify(event)}\n\n`);
  };
  const ping = setInterval(() => write({ event: 'ping', task_id: taskId }), pingMs);
  return {
    send: write,
    close() {
      clearInterval(ping);
      if (!res.writableEnded) res.end();
    },
  };
}
