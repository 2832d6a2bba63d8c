import type { Routes } from '../http/operations.ts';
import type { Services } from '../services.ts';
import { VERSION } from '../version.ts';

async function check(fn: () => Promise<unknown>, timeoutMs = 2_000): Promise<'ok' | 'unavailable'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'unavailable'>((resolve) => {
    timer = setTimeout(() => resolve('unavailable'), timeoutMs);
  });
  try {
    return await Promise.race([fn().then(() => 'ok' as const), timeout]);
  } catch {
    return 'unavailable';
  } finally {
    clearTimeout(timer);
  }
}

export function healthRoutes(s: Services): Routes<'getHealth'> {
  return {
    getHealth: {
      guard: 'public',
      async handler() {
        const [database, store] = await Promise.all([check(() => s.db.query('SELECT 1')), check(() => s.store.ping())]);
        const ok = database === 'ok' && store === 'ok';
        return { status: ok ? 200 : 503, body: { ok, version: VERSION, checks: { database, store } } };
      },
    },
  };
}
