import { READ_APP } from '../auth/scopes.ts';
import { notFound } from '../errors.ts';
import type { Routes } from '../http/operations.ts';
import { page } from '../http/pagination.ts';
import type { ConversationRow, MessageRow } from '../storage/repos/conversations.ts';
import type { Services } from '../services.ts';
import { prepareMessageRun, type MessageOutcome } from './message-run.ts';
import { answerRun, JSON_HEADERS } from './run-http.ts';
import { subjectOf, unix } from './run-service.ts';
import { prepareWorkflowRun, workflowData } from './workflow-run.ts';

type RunOps = 'createChatMessage' | 'createCompletionMessage' | 'runWorkflow' | 'listConversations' | 'listConversationMessages' | 'stopTask';

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

/** Chat, completion and workflow runs (docs/apps.md), the caller's chat history, and stopping tasks. */
export function runRoutes(s: Services): Routes<RunOps> {
  return {
    createChatMessage: {
      guard: 'app',
      scope: 'apps:run',
      modes: ['chat'],
      async handler({ app, caller, auth, body, req, res }) {
        const run = await prepareMessageRun(s, { app, caller, tokenId: auth.tokenId, inputs: body.inputs, query: body.query, conversationId: body.conversation_id });
        const o = await answerRun(s, req, res, run, body.response_mode === 'streaming');
        if (!o) return undefined;
        return { status: 200, headers: JSON_HEADERS, body: { ...messageBody(o), mode: 'chat', conversation_id: o.conversationId! } };
      },
    },
    createCompletionMessage: {
      guard: 'app',
      scope: 'apps:run',
      modes: ['completion'],
      async handler({ app, caller, auth, body, req, res }) {
        const run = await prepareMessageRun(s, { app, caller, tokenId: auth.tokenId, inputs: body.inputs, query: body.query ?? '' });
        const o = await answerRun(s, req, res, run, body.response_mode === 'streaming');
        if (!o) return undefined;
        return { status: 200, headers: JSON_HEADERS, body: { ...messageBody(o), mode: 'completion' } };
      },
    },
    runWorkflow: {
      guard: 'app',
      scope: 'apps:run',
      modes: ['workflow'],
      async handler({ app, caller, auth, body, req, res }) {
        const run = await prepareWorkflowRun(s, { app, caller, tokenId: auth.tokenId, inputs: body.inputs });
        const o = await answerRun(s, req, res, run, body.response_mode === 'streaming');
        if (!o) return undefined;
        return { status: 200, headers: JSON_HEADERS, body: { workflow_run_id: o.run.id, task_id: o.taskId, data: workflowData(o.run) } };
      },
    },
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
