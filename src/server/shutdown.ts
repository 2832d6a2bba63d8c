import { once } from 'node:events';
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { TesseraApp } from '../app.ts';
import type { Store } from '../storage/store/index.ts';
import { settleWithin } from '../time-limit.ts';

/** Each clean-up step (store, services, telemetry) gets at most this long; the database twice (an embedded Postgres stops there too). */
const STEP_MS = 2_000;
const STEPS_MS = STEP_MS + STEP_MS + STEP_MS + 2 * STEP_MS;
/** Room for the event loop to get through the bounded steps on a loaded machine. */
const BACKSTOP_SLACK_MS = 10_000;

/**
 * When shutdown gives up and exits 1. Only a bug can get there: the drain and every step
 * are bounded, so the backstop follows from the configured drain rather than being a
 * fixed figure that a long SHUTDOWN_DRAIN_MS (up to 600 s) would overtake, turning an
 * orderly shutdown with one slow request into an exit 1.
 */
export const backstopMs = (drainMs: number): number => drainMs + STEPS_MS + BACKSTOP_SLACK_MS;

export interface ShutdownDeps {
  server: Server;
  app: TesseraApp;
  store: Store;
  database: { stop(): Promise<void> };
  /** The metrics listener and the OpenTelemetry exporters: closed after the services, so their last audit records go out too. */
  telemetry?: { close(): Promise<void> };
  log: Logger;
  /** Intervals of the process (e.g. the pruner) to clear first. */
  timers?: NodeJS.Timeout[];
  /** In-flight requests get this long to finish (SHUTDOWN_DRAIN_MS); then their connections are closed. */
  drainMs: number;
  exit?: (code: number) => void;
}

/**
 * Graceful, bounded shutdown on SIGINT and SIGTERM. Whatever Redis and Postgres are
 * doing (down, restarting, hung), the process ends within seconds and exits 0: a
 * shutdown is something the operator asked for, not a failure. Order: stop the
 * replica's runs (their streams end), stop accepting, let in-flight requests finish
 * (at most `drainMs`, then close what is left), then close the store, the services
 * (flushing `last_used_at`) and the database, each step with its own deadline and
 * its failures logged.
 */
export function installShutdown(deps: ShutdownDeps): (signal: string) => Promise<void> {
  const shutdown = createShutdown(deps);
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  return shutdown;
}

/** The shutdown itself, without the signal handlers (tests call it directly). */
export function createShutdown(deps: ShutdownDeps): (signal: string) => Promise<void> {
  const { server, app, store, database, log, drainMs } = deps;
  const exit = deps.exit ?? ((code: number) => process.exit(code));
  let stopping = false;

  const step = async (name: string, ms: number, fn: () => Promise<unknown>) => {
    let failure: unknown = null;
    const done = await settleWithin(
      fn().catch((err: unknown) => {
        failure = err;
      }),
      ms,
    );
    if (!done) log.warn({ step: name, ms }, 'shutdown: step did not finish in time; going on');
    else if (failure) log.warn({ step: name, err: String(failure) }, 'shutdown: step failed; going on');
  };

  const shutdown = async (signal: string) => {
    if (stopping) {
      log.info({ signal }, 'already shutting down');
      return;
    }
    stopping = true;
    log.info({ signal }, 'shutting down: finishing in-flight requests');
    const backstop = setTimeout(() => {
      log.error({ ms: backstopMs(drainMs) }, 'shutdown did not finish; exiting');
      exit(1);
    }, backstopMs(drainMs));
    backstop.unref();
    for (const t of deps.timers ?? []) clearInterval(t);
    app.services.tasks.abortAll();
    const closed = once(server, 'close');
    server.close();
    server.closeIdleConnections();
    if (!(await settleWithin(closed, drainMs))) {
      log.warn('shutdown: requests still running at the drain deadline; closing their connections');
      server.closeAllConnections();
    }
    // The store first: it only disconnects, and then no service waits on a hung Redis to unsubscribe.
    await step('store', STEP_MS, () => store.close());
    await step('services', STEP_MS, () => app.close());
    if (deps.telemetry) await step('telemetry', STEP_MS, () => deps.telemetry!.close());
    // Longer: an embedded Postgres is stopped here too.
    await step('database', STEP_MS * 2, () => database.stop());
    log.info('stopped');
    clearTimeout(backstop);
    exit(0);
  };
  return shutdown;
}
