import type { Routes } from '../http/operations.ts';
import type { Dependency } from '../observability/metric-catalog.ts';
import type { Services } from '../services.ts';
import { orAfter } from '../time-limit.ts';
import { VERSION } from '../version.ts';

/** 'ok' when fn resolves within the time; a rejection or a hang is 'unavailable'. */
async function check(fn: () => Promise<unknown>, timeoutMs = 2_000): Promise<'ok' | 'unavailable'> {
  try {
    return await orAfter(fn().then(() => 'ok' as const), timeoutMs, 'unavailable' as const);
  } catch {
    return 'unavailable';
  }
}

/**
 * Whether each dependency answers now, each check bounded in time (`tessera_dependency_up`):
 * the database, the store, and the SSO identity provider when one is configured.
 */
export async function dependencyStates(s: Pick<Services, 'db' | 'store' | 'sso'>): Promise<Partial<Record<Dependency, boolean>>> {
  const [database, store, idp] = await Promise.all([
    check(() => s.db.query('SELECT 1')),
    check(() => s.store.ping()),
    s.sso ? check(() => s.sso!.rp.answer(2_000)) : null,
  ]);
  return { database: database === 'ok', store: store === 'ok', ...(idp ? { idp: idp === 'ok' } : {}) };
}

export function healthRoutes(s: Services): Routes<'getHealth'> {
  return {
    getHealth: {
      guard: 'public',
      async handler() {
        const [database, store] = await Promise.all([check(() => s.db.query('SELECT 1')), check(() => s.store.ping())]);
        const ok = database === 'ok' && store === 'ok';
        return { status: ok ? 200 : 503, body: { ok, version: VERSION, checks: { database, store }, store_deployment: s.store.deployment } };
      },
    },
  };
}
