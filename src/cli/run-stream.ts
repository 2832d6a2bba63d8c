import { createParser } from 'eventsource-parser';
import type { components } from '../../generated/openapi.ts';
import { call, type Caller } from './api.ts';
import { CliError, EXIT } from './errors.ts';
import { terminalLine, terminalText } from './term.ts';

type AppMode = components['schemas']['AppMode'];
type StreamEvent = { event: string; task_id: string; [k: string]: unknown };
type RunData = components['schemas']['WorkflowRunData'];

/** Why a streamed run did not succeed, as `--json` reports it (null when it did). */
interface RunError {
  /** The HTTP status the same failure gets in blocking mode (stream `error` events only). */
  status?: number;
  code: string;
  message: string;
}

/** How the stream ended when it did not succeed: the line for stderr and exit code, and the same for the document. */
interface Failure {
  exit: CliError;
  error: RunError;
}

/** `line` is what stderr shows; `error.message` is the server's own text where there is one. */
const failure = (exitCode: number, line: string, error: RunError): Failure => ({ exit: new CliError(exitCode, line), error });

export function formatOutputs(outputs: Record<string, unknown> | null | undefined): string {
  const entries = Object.entries(outputs ?? {});
  if (!entries.length) return '(no outputs)';
  return entries.map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join('\n');
}

/**
 * The one `--json` document of a streamed run: the blocking answer's shape (as far as
 * the events carried it; what they did not is null), plus `events` (every event in
 * order, pings left out) and `error`.
 */
function runDocument(mode: AppMode, taskId: string | null, events: StreamEvent[], error: RunError | null): Record<string, unknown> {
  const find = (name: string) => events.find((e) => e.event === name);
  if (mode === 'workflow') {
    const started = find('workflow_started');
    const finished = find('workflow_finished');
    return { workflow_run_id: finished?.workflow_run_id ?? started?.workflow_run_id ?? null, task_id: taskId, data: finished?.data ?? null, events, error };
  }
  const first = find('message');
  const end = find('message_end');
  const messageId = end?.message_id ?? first?.message_id ?? null;
  return {
    event: 'message',
    task_id: taskId,
    id: messageId,
    message_id: messageId,
    ...(mode === 'chat' ? { conversation_id: end?.conversation_id ?? first?.conversation_id ?? null } : {}),
    mode,
    answer: events.flatMap((e) => (e.event === 'message' ? [String(e.answer)] : [])).join(''),
    metadata: end?.metadata ?? null,
    created_at: first?.created_at ?? null,
    events,
    error,
  };
}

/**
 * Reads a run's event stream. Without --json the answer is printed as it arrives (node
 * progress on stderr); with --json the events are gathered and printed as one document
 * once the stream is over, however it ended: finished, failed, cut off or cancelled.
 * The exit code does not depend on --json: an `error` event or a failed workflow exits
 * 3, a stream that breaks off or ends before its final event 4, Ctrl-C 130. Returns the
 * chat conversation's id, for the hint that continues it.
 */
export async function readRunStream(
  caller: Caller,
  mode: AppMode,
  request: Promise<{ data?: unknown; error?: unknown; response: Response }>,
): Promise<string | undefined> {
  const { ctx, host } = caller;
  // Until the server answers 200 there is no stream: an error then is the same as in blocking mode.
  const body = (await call<unknown>(caller, request)) as ReadableStream<Uint8Array>;
  const events: StreamEvent[] = [];
  let taskId: string | null = null;
  let failed: Failure | undefined;
  let finished = false;
  let conversation: string | undefined;
  // Whether stdout ends inside a line of the answer, so an error cutting it short starts on a line of its own.
  let midLine = false;
  const human = (text: string, stream: NodeJS.WriteStream = process.stdout) => {
    if (ctx.json || !text) return;
    stream.write(text);
    if (stream === process.stdout) midLine = !text.endsWith('\n');
  };
  const parser = createParser({
    onEvent(message) {
      const ev = JSON.parse(message.data) as StreamEvent;
      taskId ??= typeof ev.task_id === 'string' ? ev.task_id : null;
      if (ev.event === 'ping') return;
      events.push(ev);
      if (ev.event === 'error') {
        finished = true;
        const error: RunError = { code: String(ev.code), message: String(ev.message) };
        if (typeof ev.status === 'number') error.status = ev.status;
        failed = failure(EXIT.api, `Error ${error.status ? `${error.status} ` : ''}${error.code}: ${error.message}`, error);
      }
      if (ev.event === 'message') human(terminalText(String(ev.answer)));
      if (ev.event === 'message_end') {
        finished = true;
        human('\n');
        if (typeof ev.conversation_id === 'string') conversation = ev.conversation_id;
      }
      if (ev.event === 'node_started') human(`▸ ${terminalLine(String((ev.data as { node_id?: string }).node_id))}\n`, process.stderr);
      if (ev.event === 'workflow_finished') {
        finished = true;
        const data = ev.data as RunData;
        const details = data.error ?? 'no details';
        if (data.status !== 'succeeded') failed = failure(EXIT.api, `The workflow ${data.status}: ${details}`, { code: `workflow_${data.status}`, message: details });
        else human(`${terminalText(formatOutputs(data.outputs))}\n`);
      }
    },
  });
  const decoder = new TextDecoder();
  try {
    for await (const chunk of body) parser.feed(decoder.decode(chunk, { stream: true }));
  } catch (e) {
    // Ctrl-C aborts the request with a CliError (exit 130) as the reason.
    const cause = (e as { cause?: Error }).cause?.message;
    const line = e instanceof CliError ? e.message : `The stream from ${host} broke off: ${(e as Error).message}${cause ? ` (${cause})` : ''}`;
    const code = e instanceof CliError && e.exitCode === 130 ? 'cancelled' : 'stream_broken';
    failed = failure(e instanceof CliError ? e.exitCode : EXIT.network, line, { code, message: line });
  }
  if (!failed && !finished) {
    const line = `The stream from ${host} ended before the run finished.`;
    failed = failure(EXIT.network, line, { code: 'stream_incomplete', message: line });
  }
  if (ctx.json) ctx.print('', runDocument(mode, taskId, events, failed?.error ?? null));
  else if (failed && midLine) process.stdout.write('\n');
  if (failed) throw failed.exit;
  return conversation;
}
