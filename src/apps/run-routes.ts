import { READ_APP } from '../auth/scopes.ts';
import { notFound } from '../errors.ts';
import type { AppContext, Routes } from '../http/operations.ts';
import { page } from '../http/pagination.ts';
import { originOf } from '../observability/audit.ts';
import { traceContextOf } from '../observability/spans.ts';
import type { ConversationRow, MessageRow } from '../storage/repos/conversations.ts';
import type { Services } from '../services.ts';
import { prepareMessageRun, type MessageOutcome } from './message-run.ts';
import { answerRun, JSON_HEADERS } from './run-http.ts';
import { subjectOf, unix } from './run-service.ts';
import { prepareWorkflowRun, workflowData } from './workflow-run.ts';

type RunOps =
  | 'createChatMessage'
  | 'streamChatMessage'
  | 'createCompletionMessage'
  | 'streamCompletionMessage'
  | 'runWorkflow'
  | 'streamWorkflowRun'
  | 'listConversations'
  | 'listConversationMessages'
  | 'stopTask';

function messageBody(o: MessageOutcome) {
  return {
    event: 'message' as const,
    task_id: o.taskId,
    id: o.message.id,
    message_id: o.message.id,
    answer: o.answer,
    metadata: { usage: o.usage },
    created_at: unix(o.message.created_at),
  };
}

const conversationBody = (c: ConversationRow) => ({ id: c.id, name: c.name, created_at: unix(c.created_at), updated_at: unix(c.updated_at) });
const historyBody = (m: MessageRow) => ({
  id: m.id,
  conversation_id: m.conversation_id!,
  query: m.query,
  answer: m.answer,
  inputs: m.inputs,
  status: m.status as 'succeeded' | 'failed' | 'stopped',
  metadata: { usage: m.usage },
  created_at: unix(m.created_at),
});

/**
 * Chat, completion and workflow runs (docs/apps.md), the caller's chat history, and stopping tasks.
 * Each run route has a streaming twin at `…/stream` whose body requires `response_mode:
 * streaming`, so that generated clients get a typed stream; both call the same run function.
 */
export function runRoutes(s: Services): Routes<RunOps> {
  async function chat({ app, caller, auth, body, req, res }: AppContext<'createChatMessage' | 'streamChatMessage'>) {
    const run = await prepareMessageRun(s, { app, caller, tokenId: auth.tokenId, origin: originOf(req), trace: traceContextOf(req), inputs: body.inputs, query: body.query, conversationId: body.conversation_id });
    const o = await answerRun(s, req, res, run, body.response_mode === 'streaming');
    return o && { ...messageBody(o), mode: 'chat' as const, conversation_id: o.conversationId! };
  }
  async function completion({ app, caller, auth, body, req, res }: AppContext<'createCompletionMessage' | 'streamCompletionMessage'>) {
    const run = await prepareMessageRun(s, { app, caller, tokenId: auth.tokenId, origin: originOf(req), trace: traceContextOf(req), inputs: body.inputs, query: body.query ?? '' });
    const o = await answerRun(s, req, res, run, body.response_mode === 'streaming');
    return o && { ...messageBody(o), mode: 'completion' as const };
  }
  async function workflow({ app, caller, auth, body, req, res }: AppContext<'runWorkflow' | 'streamWorkflowRun'>) {
    const run = await prepareWorkflowRun(s, { app, caller, tokenId: auth.tokenId, origin: originOf(req), trace: traceContextOf(req), inputs: body.inputs });
    const o = await answerRun(s, req, res, run, body.response_mode === 'streaming');
    return o && { workflow_run_id: o.run.id, task_id: o.taskId, data: workflowData(o.run) };
  }
  return {
    createChatMessage: { guard: 'app', scope: 'apps:run', modes: ['chat'], handler: async (ctx) => json(await chat(ctx)) },
    streamChatMessage: { guard: 'app', scope: 'apps:run', modes: ['chat'], handler: async (ctx) => void (await chat(ctx)) },
    createCompletionMessage: { guard: 'app', scope: 'apps:run', modes: ['completion'], handler: async (ctx) => json(await completion(ctx)) },
    streamCompletionMessage: { guard: 'app', scope: 'apps:run', modes: ['completion'], handler: async (ctx) => void (await completion(ctx)) },
    runWorkflow: { guard: 'app', scope: 'apps:run', modes: ['workflow'], handler: async (ctx) => json(await workflow(ctx)) },
    streamWorkflowRun: { guard: 'app', scope: 'apps:run', modes: ['workflow'], handler: async (ctx) => void (await workflow(ctx)) },
    listConversations: {
      guard: 'app',
      scope: READ_APP,
      modes: ['chat'],
      async handler({ app, caller, query }) {
        const p = page(query);
        const { rows, total } = await s.conversations.list(app.id, subjectOf(caller), p.limit, p.offset);
        return { status: 200, body: p.envelope(rows.map(conversationBody), total) };
      },
    },
    listConversationMessages: {
      guard: 'app',
      scope: READ_APP,
      modes: ['chat'],
      async handler({ app, caller, params, query }) {
        const conversation = await s.conversations.find(app.id, subjectOf(caller), params.conversation_id);
        if (!conversation) throw notFound('Conversation');
        const p = page(query);
        const { rows, total } = await s.conversations.messages(conversation.id, p.limit, p.offset);
        return { status: 200, body: p.envelope(rows.map(historyBody), total) };
      },
    },
    stopTask: {
      guard: 'app',
      scope: 'apps:run',
      async handler({ app, caller, params }) {
        if (!(await s.tasks.stop(app.id, subjectOf(caller), params.task_id))) throw notFound('Task');
        return { status: 200, body: { result: 'success' } };
      },
    },
  };
}

/** A blocking answer; undefined when the run streamed its events itself. */
function json<B>(body: B | undefined) {
  return body && { status: 200 as const, headers: JSON_HEADERS, body };
}
