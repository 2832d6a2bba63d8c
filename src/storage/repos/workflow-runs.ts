import type { Database } from '../db.ts';
import type { RunStatus } from './conversations.ts';

export interface StepRecord {
  node_id: string;
  node_type: 'template' | 'llm' | 'end';
  status: 'succeeded' | 'failed' | 'stopped';
  outputs: Record<string, unknown> | null;
  error: string | null;
  elapsed_time: number;
  total_tokens: number;
}

export interface WorkflowRunRow {
  id: string;
  status: RunStatus;
  outputs: Record<string, unknown> | null;
  error: string | null;
  elapsed_time: number;
  total_tokens: number;
  total_steps: number;
  created_at: Date;
  finished_at: Date | null;
}

const COLUMNS = 'id, status, outputs, error, elapsed_time, total_tokens, total_steps, created_at, finished_at';

export class WorkflowRunRepo {
  constructor(private readonly db: Database) {}

  async start(appId: string, subject: string, inputs: object): Promise<WorkflowRunRow> {
    const row = await this.db.one<WorkflowRunRow>(
      `INSERT INTO workflow_runs (app_id, subject, status, inputs) VALUES ($1, $2, 'running', $3) RETURNING ${COLUMNS}`,
      [appId, subject, inputs],
    );
    return row!;
  }

  async finish(
    id: string,
    f: { status: RunStatus; outputs: Record<string, unknown> | null; error: string | null; elapsedTime: number; totalTokens: number; steps: StepRecord[] },
  ): Promise<WorkflowRunRow> {
    const row = await this.db.one<WorkflowRunRow>(
      `UPDATE workflow_runs SET status = $2, outputs = $3, error = $4, elapsed_time = $5, total_tokens = $6,
              total_steps = $7, steps = $8, finished_at = now()
        WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, f.status, f.outputs, f.error, f.elapsedTime, f.totalTokens, f.steps.length, JSON.stringify(f.steps)],
    );
    return row!;
  }

  async find(id: string): Promise<WorkflowRunRow | undefined> {
    return this.db.one<WorkflowRunRow>(`SELECT ${COLUMNS} FROM workflow_runs WHERE id = $1`, [id]);
  }
}
