import type { TraceContext } from '../observability/spans.ts';
import type { RunStatus } from '../storage/repos/conversations.ts';
import type { StepRecord, WorkflowRunRow } from '../storage/repos/workflow-runs.ts';
import { inputSchemaOf, type WorkflowConfig, type WorkflowStep } from './app-config.ts';
import { render, validateInputs } from './inputs.ts';
import { finalWrite } from './run-sweeper.ts';
import { runEnded, beginRun, endedBy, rethrowFailure, unix, type PreparedRun, type RunDeps, type RunRequest, type WorkflowStreamEvent } from './run-service.ts';

export interface WorkflowOutcome {
  taskId: string;
  run: WorkflowRunRow;
}

interface StepResult {
  outputs: Record<string, unknown>;
  tokens: number;
}

async function runStep(d: RunDeps, config: WorkflowConfig, step: WorkflowStep, vars: Record<string, unknown>, signal: AbortSignal, trace: TraceContext | undefined): Promise<StepResult> {
  signal.throwIfAborted();
  if (step.type === 'template') {
    vars[step.output] = await render(step.template, vars);
    return { outputs: { [step.output]: vars[step.output] }, tokens: 0 };
  }
  if (step.type === 'llm') {
    // The config check at creation guarantees a model here (the step's or the workflow's).
    const model = (step.model ?? config.model)!;
    const prompt = await render(step.prompt, vars);
    const result = await d.providers[model.provider].complete({ model, messages: [{ role: 'user', content: prompt }], signal, trace, onDelta: () => undefined });
    vars[step.output] = result.answer;
    return { outputs: { [step.output]: result.answer }, tokens: result.usage.total_tokens };
  }
  return { outputs: Object.fromEntries(Object.entries(step.outputs).map(([name, variable]) => [name, vars[variable] ?? null])), tokens: 0 };
}

/** Workflow runs: the steps in order over one variable scope; the end step maps variables to outputs. */
export async function prepareWorkflowRun(d: RunDeps, r: RunRequest): Promise<PreparedRun<WorkflowOutcome, WorkflowStreamEvent>> {
  const config = r.app.config as WorkflowConfig;
  const inputs = validateInputs(inputSchemaOf(r.app.config), r.inputs);
  const { task, row } = await beginRun(d, r, 'workflow_runs', (subject) => d.workflowRuns.start(r.app.id, subject, inputs));
  const ids = { task_id: task.id, workflow_run_id: row.id };
  return {
    taskId: task.id,
    abort: task.abort,
    async execute(sink) {
      const started = Date.now();
      sink.send({ event: 'workflow_started', ...ids, data: { id: row.id, created_at: unix(row.created_at) } });
      const vars: Record<string, unknown> = { ...inputs };
      const steps: StepRecord[] = [];
      let outputs: Record<string, unknown> | null = null;
      let status: RunStatus = 'succeeded';
      let failure: unknown = null;
      for (const [i, step] of config.steps.entries()) {
        const stepStart = Date.now();
        const node = { node_id: step.id, node_type: step.type, index: i + 1 };
        sink.send({ event: 'node_started', ...ids, data: { ...node, created_at: unix(stepStart) } });
        let result: StepResult | null = null;
        try {
          result = await runStep(d, config, step, vars, task.signal, r.trace);
          if (step.type === 'end') outputs = result.outputs;
        } catch (err) {
          status = endedBy(err, task);
          if (status === 'failed') failure = err;
        }
        const record: StepRecord = {
          node_id: step.id,
          node_type: step.type,
          status: status as StepRecord['status'],
          outputs: result?.outputs ?? null,
          error: failure instanceof Error ? failure.message : status === 'stopped' ? 'stopped' : null,
          elapsed_time: (Date.now() - stepStart) / 1000,
          total_tokens: result?.tokens ?? 0,
        };
        steps.push(record);
        sink.send({ event: 'node_finished', ...ids, data: { ...record, index: node.index, created_at: unix(stepStart), finished_at: unix(Date.now()) } });
        if (status !== 'succeeded') break;
      }
      const error = steps.at(-1)?.error ?? null;
      let finished: WorkflowRunRow;
      try {
        const result = {
          status,
          outputs,
          error: status === 'succeeded' ? null : error,
          elapsedTime: (Date.now() - started) / 1000,
          totalTokens: steps.reduce((n, s) => n + s.total_tokens, 0),
          steps,
        };
        finished = await finalWrite(() => d.workflowRuns.finish(row.id, result), d.log);
      } finally {
        await task.end();
        runEnded(d, r, status, started);
      }
      rethrowFailure(failure);
      sink.send({ event: 'workflow_finished', ...ids, data: workflowData(finished) });
      return { taskId: task.id, run: finished };
    },
  };
}

export function workflowData(run: WorkflowRunRow) {
  return {
    id: run.id,
    status: run.status,
    outputs: run.outputs,
    error: run.error,
    elapsed_time: run.elapsed_time,
    total_tokens: run.total_tokens,
    total_steps: run.total_steps,
    created_at: unix(run.created_at),
    finished_at: run.finished_at ? unix(run.finished_at) : null,
  };
}
