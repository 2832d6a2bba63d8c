// The fetch function orval's generated client calls for the streaming operations
// (`…/stream`): orval has no Server-Sent Events support of its own, so this turns the
// answer into typed events. Copy it next to your orval config (see docs/sdk.md).
import { EventSourceParserStream } from 'eventsource-parser/stream';

/** What orval passes as `R`: one `{ status, data }` variant per declared response. */
type Declared = { status: number; data: unknown };
/** The event type of a stream: the `data` of the declared 200 (`text/event-stream`) response. */
export type StreamEvent<R extends Declared> = Extract<R, { status: 200 }>['data'];

/** A stream that started (200), or the operation's declared JSON error. */
export type StreamAnswer<R extends Declared> =
  | { status: 200; headers: Headers; events: AsyncGenerator<StreamEvent<R>, void, undefined> }
  | (Exclude<R, { status: 200 }> & { headers: Headers });

/**
 * Sends the request once (a run is not idempotent, so nothing is retried) and, on 200,
 * yields each `data:` line's JSON as one event until the server ends the stream. Abort
 * `init.signal` to stop reading; the server then stops the run.
 */
export async function sseFetch<R extends Declared>(url: string, init: RequestInit): Promise<StreamAnswer<R>> {
  const headers = new Headers(init.headers);
  headers.set('Accept', 'text/event-stream');
  const res = await fetch(url, { ...init, headers });
  if (res.status !== 200) {
    const text = await res.text();
    return { status: res.status, data: text ? JSON.parse(text) : undefined, headers: res.headers } as StreamAnswer<R>;
  }
  const body = res.body;
  if (!body) throw new Error('the stream answer has no body');
  async function* events(): AsyncGenerator<StreamEvent<R>, void, undefined> {
    const reader = body!.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield JSON.parse(value.data) as StreamEvent<R>;
      }
    } finally {
      reader.releaseLock();
      await body!.cancel().catch(() => undefined);
    }
  }
  return { status: 200, headers: res.headers, events: events() } as StreamAnswer<R>;
}
