import { AsyncLocalStorage } from 'node:async_hooks';
import { ROOT_CONTEXT, type Context, type ContextManager } from '@opentelemetry/api';

/**
 * An AsyncLocalStorage whose `run` without a store runs the function outside of it. On
 * Node 20 entering an AsyncLocalStorage costs every request several microseconds (a warm
 * `/me` takes about 35), so only sampled requests enter one: an unsampled request has no
 * spans to parent, and what its trace context is still needed for (the provider's
 * `traceparent`) travels explicitly (spans.ts).
 */
export class SampledStorage extends AsyncLocalStorage<Context> {
  override run<R, A extends unknown[]>(store: Context | undefined, callback: (...args: A) => R, ...args: A): R {
    return store === undefined ? callback(...args) : super.run(store, callback, ...args);
  }
}

/**
 * OpenTelemetry's active context, kept in a storage of our own so that it can be bound to
 * the `tessera.request` channel (`start.bindStore`): each sampled request's work then runs
 * in its server span's context from the first line of the listener on, whichever way the
 * request is served, without wrapping the listener or patching anything. The same as the
 * SDK's AsyncLocalStorageContextManager otherwise.
 */
export class RequestContextManager implements ContextManager {
  readonly storage = new SampledStorage();

  active(): Context {
    return this.storage.getStore() ?? ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(context: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.storage.run(context, thisArg === undefined ? fn : (fn.bind(thisArg) as F), ...args);
  }

  /** Functions only: nothing of ours binds event emitters, and instrumentations that would are not loaded. */
  bind<T>(context: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const fn = target as unknown as (this: unknown, ...args: unknown[]) => unknown;
    const storage = this.storage;
    return function (this: unknown, ...args: unknown[]) {
      return storage.run(context, () => fn.apply(this, args));
    } as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.storage.disable();
    return this;
  }
}
