import type { components } from '../../../generated/openapi.ts';
import { call, type Caller } from '../api.ts';
import { CliError, EXIT, usage } from '../errors.ts';
import { collectInputs } from '../inputs.ts';
import { readStdin } from '../prompt.ts';
import { formatOutputs, readRunStream } from '../run-stream.ts';
import type { CliContext } from '../session.ts';
import { err, terminalLine, terminalText } from '../term.ts';
import { describeInputs } from './apps.ts';

export interface RunOptions {
  input?: string[];
  inputFile?: string;
  /** The old spelling of --input-file, kept as a hidden alias. */
  inputsFile?: string;
  query?: string;
  conversation?: string;
  stream?: boolean;
}

type Schemas = components['schemas'];

type AppInfo = Schemas['AppInfo'];

/** Lists the app's inputs in the `--input name=…` form, with an example command that has every required one. */
function inputsHint(ctx: CliContext, app: AppInfo, query: string | undefined): string {
  const example = ctx.cmd(
    'run',
    app.id,
    ...(app.mode === 'chat' ? ['--query', query ?? '…'] : []),
    ...app.input_schema.filter((f) => f.required).flatMap((f) => ['--input', `${f.variable}=…`]),
  );
  return [`${terminalLine(app.name)} takes these inputs:`, ...describeInputs(app.input_schema), `For example: ${terminalLine(example)}`].join('\n');
}

export async function run(ctx: CliContext, appId: string, opts: RunOptions): Promise<void> {
  const target = await ctx.client();
  const caller: Caller = { ctx, ...target };
  const { api } = target;
  const info = await call(caller, api.GET('/apps/{app_id}/info', { params: { path: { app_id: appId } } }));
  const inputs = await collectInputs(opts.input ?? [], opts.inputFile ?? opts.inputsFile);
  const query = opts.query === '-' ? await readStdin('the query', `For example: \`echo "Hello" | ${ctx.cmd('run', appId, '--query', '-')}\``) : opts.query;
  if (info.mode === 'chat' && !query) throw usage('A chat app needs --query TEXT.', `For example: ${ctx.cmd('run', appId, '--query', 'Hello')}`);
  if (info.mode !== 'chat' && opts.conversation) throw usage('--conversation is only for chat apps.');
  const missing = info.input_schema.filter((f) => f.required && (inputs[f.variable] === undefined || inputs[f.variable] === ''));
  if (missing.length) {
    throw usage(`Missing required input${missing.length > 1 ? 's' : ''}: ${missing.map((f) => f.variable).join(', ')}.`, inputsHint(ctx, info, query));
  }
  // A person at a terminal watches a chat answer arrive; a pipe or a script gets it whole, as one JSON document with --json.
  const stream = opts.stream ?? (info.mode === 'chat' && process.stdout.isTTY === true && !ctx.json);
  const path = { app_id: appId };
  const mode = stream ? ('streaming' as const) : ('blocking' as const);
  // One request per mode; streaming only changes how the answer is read.
  const send = (init: { parseAs?: 'stream'; signal?: AbortSignal; headers?: Record<string, string> }) =>
    info.mode === 'chat'
      ? api.POST('/apps/{app_id}/chat-messages', { ...init, params: { path }, body: { inputs, query: query!, response_mode: mode, conversation_id: opts.conversation } })
      : info.mode === 'completion'
        ? api.POST('/apps/{app_id}/completion-messages', { ...init, params: { path }, body: { inputs, query, response_mode: mode } })
        : api.POST('/apps/{app_id}/workflows/run', { ...init, params: { path }, body: { inputs, response_mode: mode } });

  // The server validates inputs too (types, lengths, options): its answer gets the same list of inputs.
  const withInputs = (err: unknown): never => {
    if (err instanceof CliError && /^Error 400 invalid_request: Invalid inputs/.test(err.message)) throw new CliError(err.exitCode, err.message, inputsHint(ctx, info, query));
    throw err;
  };
  if (stream) {
    const controller = new AbortController();
    const onSigint = () => controller.abort(new CliError(130, 'Run cancelled.'));
    process.once('SIGINT', onSigint);
    try {
      const request = send({ parseAs: 'stream', signal: controller.signal, headers: { Accept: 'text/event-stream' } });
      const conversation = await readRunStream(caller, info.mode, request).catch(withInputs);
      if (conversation && !ctx.json) hintConversation(ctx, appId, conversation);
    } finally {
      process.off('SIGINT', onSigint);
    }
    return;
  }

  // A 200 declares both a JSON body and an event stream; a blocking request only ever gets the JSON one.
  const answer = await call<unknown>(caller, send({})).catch(withInputs);
  if (info.mode === 'workflow') {
    const res = answer as Schemas['WorkflowRunResponse'];
    // --json still prints the run (scripts want its details), but the exit code tells failure either way.
    if (ctx.json || res.data.status === 'succeeded') ctx.print(terminalText(formatOutputs(res.data.outputs)), res);
    if (res.data.status !== 'succeeded') throw new CliError(EXIT.api, `The workflow ${res.data.status}: ${res.data.error ?? 'no details'}`);
    return;
  }
  const res = answer as Schemas['ChatMessageResponse'] | Schemas['CompletionMessageResponse'];
  ctx.print(terminalText(res.answer), res);
  if (!ctx.json && 'conversation_id' in res) hintConversation(ctx, appId, res.conversation_id);
}

/** On stderr, so stdout stays the answer alone. */
const hintConversation = (ctx: CliContext, appId: string, id: string) =>
  process.stderr.write(`${err.dim(`To continue this conversation: ${ctx.cmd('run', appId, '--conversation', terminalLine(id), '--query', '…')}`)}\n`);
