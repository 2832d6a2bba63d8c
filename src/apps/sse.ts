import type { Response } from 'express';
import { METRICS } from '../observability/metric-catalog.ts';
import { add } from '../observability/metrics.ts';

export interface EventSink<E> {
  send(event: E): void;
  /**
   * Resolves once the client has taken what was sent. A run that waits here before
   * producing more is paced by its reader: a slow client slows the model down instead
   * of filling this process's memory.
   */
  drained(): Promise<void>;
}

/** Blocking runs emit into nothing; the result is the return value. */
export const discard: EventSink<never> = { send() {}, drained: () => Promise.resolve() };

export interface StreamOptions {
  pingMs: number;
  /** How long the stream may wait for a client that does not read before it gives up. */
  stallMs: number;
  /** Called once when the client stopped reading for `stallMs`; the run should stop. */
  onStall: () => void;
}

// After giving up, a client that still does not read loses the connection.
const DESTROY_AFTER_STALL_MS = 5_000;

/**
 * Opens a `text/event-stream` answer: each event is one `data:` line of JSON
 * (docs/apps.md), with a `ping` on an interval so proxies keep an idle stream open.
 * Written with res.write, never res.json, so response validation (which hooks
 * res.json) is not involved; tests validate each event against the spec instead.
 *
 * Backpressure: when `write` reports a full buffer, `drained()` makes the producer
 * wait for `drain`. A client that reads nothing for `stallMs` gets a last `error`
 * event (`stream_stalled`), the stream ends, and the run is stopped, so what one
 * stream can hold in memory stays near the socket's high-water mark.
 */
export function openEventStream<E>(res: Response, taskId: string, o: StreamOptions): EventSink<E> & { close(): void } {
  res.status(200).set({
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    // nginx and similar proxies buffer responses unless told not to.
    'X-Accel-Buffering': 'no',
  });
  res.flushHeaders();
  add(METRICS.sseStreamsOpen, {}, 1);
  res.once('close', () => add(METRICS.sseStreamsOpen, {}, -1));
  let full = false;
  let stalled = false;
  const open = () => !stalled && !res.writableEnded && !res.destroyed;
  const write = (event: unknown) => {
    if (open() && !res.write(`data: ${JSON.stringify(event)}\n\n`)) full = true;
  };
  res.on('drain', () => (full = false));
  // A ping only keeps an idle stream open; a full buffer is not idle.
  const ping = setInterval(() => full || write({ event: 'ping', task_id: taskId }), o.pingMs);

  const stall = () => {
    if (!open()) return;
    stalled = true;
    clearInterval(ping);
    const message = `The client did not read the stream for ${Math.round(o.stallMs / 1000)} s; the run was stopped.`;
    res.end(`data: ${JSON.stringify({ event: 'error', task_id: taskId, status: 408, code: 'stream_stalled', message })}\n\n`);
    setTimeout(() => res.destroy(), DESTROY_AFTER_STALL_MS).unref();
    o.onStall();
  };

  return {
    send: write,
    drained() {
      if (!full || !open()) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        const timer = setTimeout(() => {
          stall();
          done();
        }, o.stallMs);
        res.on('drain', done);
        res.on('close', done);
      });
    },
    close() {
      clearInterval(ping);
      if (!res.writableEnded) res.end();
    },
  };
}
