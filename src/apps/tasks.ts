import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Store } from '../storage/store/index.ts';

export const STOP_CHANNEL = 'tessera:tasks:stop';
// Longer than any run is expected to take; the key is deleted when the run ends.
const TASK_TTL_MS = 3_600_000;

/** Why a run ended early; providers rethrow it as their abort reason. */
export class RunStopped extends Error {
  constructor(readonly why: 'stopped' | 'disconnected' | 'stalled' | 'shutdown') {
    super(`run ${why}`);
  }
}

export interface Task {
  id: string;
  signal: AbortSignal;
  abort(why: RunStopped['why']): void;
  end(): Promise<void>;
}

const taskKey = (id: string) => `task:{${id}}`;

/**
 * Running tasks of this replica, plus their owners in the store so that a stop
 * can arrive on any replica: the owner check happens where the stop arrives, the
 * abort where the task runs (told over pub/sub).
 */
export class TaskRegistry {
  private readonly local = new Map<string, AbortController>();
  private unsubscribe: (() => Promise<void>) | null = null;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.unsubscribe = await this.store
      .subscribe(STOP_CHANNEL, (id) => this.local.get(id)?.abort(new RunStopped('stopped')))
      .catch((err: unknown) => {
        this.log.warn({ err }, 'tasks: could not subscribe to stops; only local stops will work');
        return null;
      });
  }

  async begin(appId: string, subject: string): Promise<Task> {
    const id = randomUUID();
    await this.store.set(taskKey(id), JSON.stringify({ app_id: appId, subject }), TASK_TTL_MS);
    const controller = new AbortController();
    this.local.set(id, controller);
    return {
      id,
      signal: controller.signal,
      abort: (why) => controller.abort(new RunStopped(why)),
      end: async () => {
        this.local.delete(id);
        await this.store.del(taskKey(id)).catch(() => undefined);
      },
    };
  }

  /** False for an unknown or finished task, or one of another subject or app. */
  async stop(appId: string, subject: string, id: string): Promise<boolean> {
    const raw = await this.store.get(taskKey(id));
    const owner = raw ? (JSON.parse(raw) as { app_id: string; subject: string }) : null;
    if (!owner || owner.app_id !== appId || owner.subject !== subject) return false;
    this.local.get(id)?.abort(new RunStopped('stopped'));
    await this.store.publish(STOP_CHANNEL, id);
    return true;
  }

  /** On shutdown: every run of this replica ends now, recorded as stopped, so open streams close before the drain deadline. */
  abortAll(): void {
    for (const c of this.local.values()) c.abort(new RunStopped('shutdown'));
  }

  async stopAll(): Promise<void> {
    this.abortAll();
    await this.unsubscribe?.();
  }
}
