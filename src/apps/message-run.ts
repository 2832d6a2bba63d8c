import { notFound } from '../errors.ts';
import type { ConversationRow, MessageRow, RunStatus, Usage } from '../storage/repos/conversations.ts';
import { AnswerText } from './answer-text.ts';
import { inputSchemaOf, type ChatConfig, type CompletionConfig } from './app-config.ts';
import { checkText, render, validateInputs } from './inputs.ts';
import { countWords, promptWords, usageOf, type ChatTurn } from './providers/index.ts';
import { finalWrite } from './run-sweeper.ts';
import {
  runEnded,
  beginRun,
  endedBy,
  rethrowFailure,
  subjectOf,
  unix,
  type ChatStreamEvent,
  type PreparedRun,
  type RunDeps,
  type RunRequest,
} from './run-service.ts';

// Earlier turns sent to the model with a new query; older ones stay in history only.
const HISTORY_TURNS = 20;

export interface MessageRunRequest extends RunRequest {
  query: string;
  conversationId?: string;
}

export interface MessageOutcome {
  taskId: string;
  message: MessageRow;
  conversationId: string | null;
  answer: string;
  usage: Usage;
  status: RunStatus;
}

async function buildTurns(d: RunDeps, r: MessageRunRequest, vars: Record<string, unknown>, conversation: ConversationRow | null): Promise<ChatTurn[]> {
  const config = r.app.config as ChatConfig & CompletionConfig;
  const turns: ChatTurn[] = [];
  if (r.app.mode === 'chat' && config.system_prompt) turns.push({ role: 'system', content: await render(config.system_prompt, vars) });
  for (const m of conversation ? await d.conversations.history(conversation.id, HISTORY_TURNS) : []) {
    turns.push({ role: 'user', content: m.query }, { role: 'assistant', content: m.answer });
  }
  turns.push({ role: 'user', content: await render(config.prompt, vars) });
  return turns;
}

/** Chat and completion runs: validate, resolve the conversation, then call the provider once. */
export async function prepareMessageRun(d: RunDeps, r: MessageRunRequest): Promise<PreparedRun<MessageOutcome, ChatStreamEvent>> {
  checkText(r.query, '/body/query');
  const inputs = validateInputs(inputSchemaOf(r.app.config), r.inputs);
  const subject = subjectOf(r.caller);
  const chat = r.app.mode === 'chat';
  let conversation: ConversationRow | null = null;
  if (chat && r.conversationId) {
    conversation = (await d.conversations.find(r.app.id, subject, r.conversationId)) ?? null;
    if (!conversation) throw notFound('Conversation');
  }
  const turns = await buildTurns(d, r, { ...inputs, query: r.query }, conversation);
  const { task, row: message } = await beginRun(d, r, 'messages', async () => {
    if (chat && !conversation) conversation = await d.conversations.create(r.app.id, subject, [...r.query].slice(0, 100).join(''));
    return d.conversations.startMessage({ appId: r.app.id, subject, conversationId: conversation?.id ?? null, query: r.query, inputs });
  });
  const model = (r.app.config as ChatConfig).model;
  const ids = { task_id: task.id, message_id: message.id, ...(conversation ? { conversation_id: conversation.id } : {}) };
  return {
    taskId: task.id,
    abort: task.abort,
    async execute(sink) {
      const started = Date.now();
      const partial = new AnswerText();
      let answer = '';
      let usage = usageOf(0, 0);
      let status: RunStatus = 'succeeded';
      let failure: unknown = null;
      try {
        const result = await d.providers[model.provider].complete({
          model,
          messages: turns,
          signal: task.signal,
          trace: r.trace,
          onDelta: (text) => {
            partial.append(text);
            sink.send({ event: 'message', ...ids, answer: text, created_at: unix(message.created_at) });
            return sink.drained();
          },
        });
        ({ answer, usage } = result);
      } catch (err) {
        status = endedBy(err, task);
        answer = partial.toString();
        if (status === 'stopped') usage = usageOf(promptWords(turns), countWords(answer));
        else failure = err;
      }
      try {
        const error = failure ? (failure instanceof Error ? failure.message : String(failure)) : null;
        await finalWrite(() => d.conversations.finishMessage(message.id, { answer, usage, status, error }), d.log);
      } finally {
        await task.end();
        runEnded(d, r, status, started);
      }
      rethrowFailure(failure);
      // A stopped run ends like a finished one, with the partial answer and its usage; history says `stopped`.
      sink.send({ event: 'message_end', ...ids, metadata: { usage } });
      return { taskId: task.id, message, conversationId: conversation?.id ?? null, answer, usage, status };
    },
  };
}
