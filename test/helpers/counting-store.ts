import type { Store } from '../../src/storage/store/index.ts';

/** Wraps a real store and counts calls that reach it (one call = one round trip). */
export function countingStore(inner: Store): Store & { calls: number; reset(): void } {
  const counter = { calls: 0 };
  const counted = new Set(['run', 'get', 'set', 'setIfAbsent', 'del', 'pttl', 'publish', 'ping']);
  const proxy = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'calls') return counter.calls;
      if (prop === 'reset') return () => (counter.calls = 0);
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (counted.has(String(prop))) counter.calls++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return proxy as Store & { calls: number; reset(): void };
}
