import type { Logger } from 'pino';
import type { components } from '../../generated/openapi.ts';
import type { AuditSink } from '../auth/bearer-authenticator.ts';
import { ApiError } from '../errors.ts';
import type { AuditOrigin } from '../observability/audit-catalog.ts';
import { METRICS, type EndedRun } from '../observability/metric-catalog.ts';
import { add, count, observe } from '../observability/metrics.ts';
import type { TraceContext } from '../observability/spans.ts';
import type { Caller } from '../auth/pipeline.ts';
import type { AppRecord } from '../storage/repos/apps.ts';
import type { ConversationRepo, RunStatus } from '../storage/repos/conversations.ts';
import type { WorkflowRunRepo } from '../storage/repos/workflow-runs.ts';
import { ProviderError, type Providers } from './providers/index.ts';
import type { RunLiveness, RunTable } from './run-sweeper.ts';
import type { EventSink } from './sse.ts';
import { RunStopped, type Task, type TaskRegistry } from './tasks.ts';

export type ChatStreamEvent = components['schemas']['ChatStreamEvent'];
export type WorkflowStreamEvent = components['schemas']['WorkflowStreamEvent'];

/** What the run use cases need; handlers pass Services, which has all of it. */
export interface RunDeps {
  conversations: ConversationRepo;
  workflowRuns: WorkflowRunRepo;
  providers: Providers;
  tasks: TaskRegistry;
  audit: AuditSink;
  /** Heartbeats of this replica's runs (the sweeper ends rows whose heartbeat stopped). */
  runs: RunLiveness;
  log: Logger;
}

export interface RunRequest {
  app: AppRecord;
  caller: Caller;
  tokenId: string;
  /** The request that started it (audit), and its trace context (the provider call). */
  origin: AuditOrigin;
  trace?: TraceContext;
  inputs: Record<string, unknown>;
}

/**
 * A run that passed validation and holds a task id. `execute` emits events while
 * it runs and resolves with the outcome; it throws (an ApiError, e.g. 502
 * provider_error) only after the run has been recorded as failed.
 */
export interface PreparedRun<R, E> {
  taskId: string;
  abort(why: RunStopped['why']): void;
  execute(sink: EventSink<E>): Promise<R>;
}

/**
 * The history key of a caller: accounts by id, external subjects by issuer and subject.
 * Issuers and subjects are any strings, so each part has `%` and `:` escaped and the key
 * splits one way only: issuer `https://gw.example` with subject `8443:alice` and issuer
 * `https://gw.example:8443` with subject `alice` are two owners (migration 006 re-keyed
 * the rows stored before).
 */
export function subjectOf(caller: Caller): string {
  return caller.type === 'account' ? `account:${caller.accountId}` : `external:${keyPart(caller.issuer)}:${keyPart(caller.subject)}`;
}

const keyPart = (text: string): string => text.replaceAll('%', '%25').replaceAll(':', '%3A');

export const unix = (d: Date | number): number => Math.floor((typeof d === 'number' ? d : d.getTime()) / 1000);

/** A run ended: counted and timed by mode, and audited. */
export function runEnded(d: RunDeps, r: RunRequest, status: EndedRun, startedMs: number): void {
  const mode = r.app.mode;
  count(METRICS.runs, { mode, status });
  observe(METRICS.runDuration, { mode }, (Date.now() - startedMs) / 1000);
  d.audit('app.run.openapi', {
    app_id: r.app.id,
    subject: subjectOf(r.caller),
    token_id: r.tokenId,
    mode: r.app.mode,
    status,
    elapsed_ms: Date.now() - startedMs,
    ...r.origin,
  });
}

/**
 * Takes a task, then records the run's row and keeps its heartbeat going; a failed
 * insert gives the task back. The task's `end` stops the heartbeat.
 */
export async function beginRun<T extends { id: string }>(d: RunDeps, r: RunRequest, table: RunTable, record: (subject: string) => Promise<T>): Promise<{ task: Task; row: T }> {
  const task = await d.tasks.begin(r.app.id, subjectOf(r.caller));
  let row: T;
  try {
    row = await record(subjectOf(r.caller));
  } catch (err) {
    await task.end();
    throw err;
  }
  d.runs.track(table, row.id);
  add(METRICS.runsInFlight, { mode: r.app.mode }, 1);
  const end = task.end;
  task.end = async () => {
    d.runs.untrack(table, row.id);
    add(METRICS.runsInFlight, { mode: r.app.mode }, -1);
    await end();
  };
  return { task, row };
}

/** How a run that threw ended: a stop or a disconnect is `stopped`, anything else `failed`. */
export function endedBy(err: unknown, task: Task): Extract<RunStatus, 'stopped' | 'failed'> {
  return err instanceof RunStopped || task.signal.aborted ? 'stopped' : 'failed';
}

/** Rethrows a recorded failure for the HTTP layer: a provider failure is 502 `provider_error`. */
export function rethrowFailure(failure: unknown): void {
  if (failure instanceof ProviderError) throw new ApiError(502, 'provider_error', failure.message);
  if (failure) throw failure;
}
