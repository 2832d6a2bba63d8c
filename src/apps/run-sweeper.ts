import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { DatabaseUnavailableError, type Database } from '../storage/db.ts';
import type { Store } from '../storage/store/index.ts';

export type RunTable = 'messages' | 'workflow_runs';

const STALE_ERROR = 'The run was interrupted (its server stopped or lost the database) and did not finish.';

/**
 * Marks `running` rows whose heartbeat stopped as `failed`: their replica crashed,
 * or their final write was lost to a database outage. One replica at a time, under a
 * store lock; null when another replica holds it.
 */
export async function sweepStaleRuns(db: Database, store: Store, staleAfterMs: number, log: Logger): Promise<{ messages: number; workflowRuns: number } | null> {
  return store.withLock('run-sweeper', 60_000, async () => {
    const args = [staleAfterMs, STALE_ERROR];
    const messages = await db.query(
      `UPDATE messages SET status = 'failed', error = $2
        WHERE status = 'running' AND heartbeat_at < now() - make_interval(secs => $1::float8 / 1000) RETURNING id`,
      args,
    );
    const workflowRuns = await db.query(
      `UPDATE workflow_runs SET status = 'failed', error = $2, finished_at = now(),
              elapsed_time = extract(epoch FROM heartbeat_at - created_at)
        WHERE status = 'running' AND heartbeat_at < now() - make_interval(secs => $1::float8 / 1000) RETURNING id`,
      args,
    );
    const result = { messages: messages.length, workflowRuns: workflowRuns.length };
    if (result.messages + result.workflowRuns > 0) log.warn({ ...result, stale_after_ms: staleAfterMs }, 'stale runs marked failed');
    return result;
  });
}

/**
 * Liveness of this replica's runs: every `runHeartbeatMs` one UPDATE per table
 * touches the rows of runs still in progress here, and every `runSweepIntervalMs` the
 * sweeper ends rows whose heartbeat is older than the provider timeout plus two
 * heartbeats. A run that keeps going (a long answer that keeps flowing) keeps its
 * heartbeat, so it is never swept, however long it takes.
 */
export class RunLiveness {
  private readonly running: Record<RunTable, Set<string>> = { messages: new Set(), workflow_runs: new Set() };
  private readonly timers: NodeJS.Timeout[] = [];
  readonly staleAfterMs: number;

  constructor(
    private readonly db: Database,
    private readonly store: Store,
    private readonly log: Logger,
    private readonly config: Pick<Config, 'providerTimeoutMs' | 'runHeartbeatMs' | 'runSweepIntervalMs'>,
  ) {
    this.staleAfterMs = config.providerTimeoutMs + 2 * config.runHeartbeatMs;
  }

  start(): void {
    this.timers.push(
      setInterval(() => void this.beat(), this.config.runHeartbeatMs).unref(),
      setInterval(() => void this.sweep(), this.config.runSweepIntervalMs).unref(),
    );
  }

  track(table: RunTable, id: string): void {
    this.running[table].add(id);
  }

  untrack(table: RunTable, id: string): void {
    this.running[table].delete(id);
  }

  async beat(): Promise<void> {
    for (const table of ['messages', 'workflow_runs'] as const) {
      const ids = [...this.running[table]];
      if (ids.length === 0) continue;
      await this.db
        .query(`UPDATE ${table} SET heartbeat_at = now() WHERE id = ANY($1::uuid[]) AND status = 'running'`, [ids])
        .catch((err: unknown) => this.log.warn({ err: String(err), table }, 'run heartbeat not written; the run goes on'));
    }
  }

  async sweep(): Promise<void> {
    await sweepStaleRuns(this.db, this.store, this.staleAfterMs, this.log).catch((err: unknown) =>
      this.log.warn({ err: String(err) }, 'run sweeper skipped; a dependency is unavailable'),
    );
  }

  stop(): void {
    for (const t of this.timers.splice(0)) clearInterval(t);
  }
}

const RETRY_DELAYS_MS = [100, 300, 700, 1_500];

/**
 * A run's final write, retried while the database is unavailable (about 2.6 s in
 * all): a short outage must not leave the run `running`. If it still fails, the
 * sweeper ends the row later.
 */
export async function finalWrite<T>(fn: () => Promise<T>, log: Logger): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const delay = RETRY_DELAYS_MS[attempt];
      if (!(err instanceof DatabaseUnavailableError) || delay === undefined) throw err;
      log.warn({ attempt: attempt + 1, err: err.message }, 'run result not written yet; retrying');
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
