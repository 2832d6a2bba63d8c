import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TesseraApp } from '../../src/app.ts';
import { createLogger } from '../../src/logger.ts';
import { backstopMs, createShutdown, type ShutdownDeps } from '../../src/server/shutdown.ts';
import type { Store } from '../../src/storage/store/index.ts';

// The clock is vitest's fake one: a drain of minutes takes no real time.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});
afterEach(() => {
  vi.useRealTimers();
});

/** A server with one request that never finishes by itself: its connection closes only when shutdown closes them all. */
function slowRequestServer() {
  const server = new EventEmitter() as EventEmitter & { drained: boolean };
  server.drained = false;
  return Object.assign(server, {
    close: () => server,
    closeIdleConnections: () => undefined,
    closeAllConnections: () => {
      server.drained = true;
      server.emit('close');
    },
  });
}

function deps(over: Partial<ShutdownDeps> & { drainMs: number }) {
  const exits: number[] = [];
  const d: ShutdownDeps = {
    server: slowRequestServer() as unknown as Server,
    app: { services: { tasks: { abortAll: () => undefined } }, close: async () => undefined } as unknown as TesseraApp,
    store: { close: async () => undefined } as unknown as Store,
    database: { stop: async () => undefined },
    log: createLogger('silent'),
    exit: (code) => exits.push(code),
    ...over,
  };
  return { d, exits };
}

describe('bounded shutdown', () => {
  it('when the drain is longer than 20 s and a request is still running, then shutdown waits the whole drain and exits 0, never 1', async () => {
    const { d, exits } = deps({ drainMs: 120_000 });
    const done = createShutdown(d)('SIGTERM');
    await vi.advanceTimersByTimeAsync(119_000);
    expect(exits).toEqual([]);
    expect((d.server as unknown as { drained: boolean }).drained).toBe(false);
    await vi.advanceTimersByTimeAsync(1_000);
    await done;
    expect(exits).toEqual([0]);
    // The backstop was cleared: nothing fires later.
    await vi.advanceTimersByTimeAsync(backstopMs(120_000));
    expect(exits).toEqual([0]);
  });

  it('when the longest drain the setting allows meets hung clean-up steps, then every step times out and it still exits 0', async () => {
    const never = () => new Promise<void>(() => undefined);
    const { d, exits } = deps({ drainMs: 600_000, store: { close: never } as unknown as Store, database: { stop: never } });
    const done = createShutdown(d)('SIGTERM');
    await vi.advanceTimersByTimeAsync(600_000 + 2_000 + 4_000);
    await done;
    expect(exits).toEqual([0]);
  });

  it('when shutdown does not finish, then the backstop exits 1, only after the drain and every step deadline have passed', async () => {
    for (const drainMs of [0, 5_000, 600_000]) expect(backstopMs(drainMs)).toBeGreaterThanOrEqual(drainMs + 2_000 + 2_000 + 4_000 + 5_000);
    // A bug: stopping the runs throws, so the orderly path never reaches its exit.
    const app = { services: { tasks: { abortAll: () => { throw new Error('bug'); } } }, close: async () => undefined } as unknown as TesseraApp;
    const { d, exits } = deps({ drainMs: 30_000, app });
    const failed = createShutdown(d)('SIGTERM').catch((err: unknown) => err);
    await vi.advanceTimersByTimeAsync(backstopMs(30_000) - 1);
    expect(exits).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(exits).toEqual([1]);
    expect(String(await failed)).toContain('bug');
  });
});
