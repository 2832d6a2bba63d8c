import { jtiKey } from './auth/dpop/policy.ts';
import { slidingWindowProofScript, slidingWindowScript } from './auth/rate-limit.ts';
import { externalKey, resolveExternalScript } from './device-flow/external-approval.ts';
import { finishScript, pollScript, recordKey, releaseScript, resolveScript, unresolveScript, usedKey, type DeviceRecord } from './device-flow/device-scripts.ts';
import { takeScript } from './sso/sso-state.ts';
import { releaseLockScript, type StoreScript } from './storage/store/index.ts';

/**
 * Every store script, in one catalog, each with one example call: the state it starts
 * from, its keys and arguments, and the answer it must give. The tests run every entry on
 * the in-process store and on a real Redis Cluster (test/integration/redis-cluster.test.ts)
 * and check each Lua statically (test/unit/store-scripts.test.ts: every key comes from
 * KEYS, the example's keys share one hash tag); a unit test fails while a script declared
 * anywhere under src/ is missing here. A new script is covered by adding it below.
 */
export interface ScriptExample<R> {
  /** Keys written (plain SET, with a TTL in ms) before the call. */
  readonly given: readonly { key: string; value: string; ttlMs: number }[];
  readonly keys: readonly string[];
  readonly args: readonly (string | number)[];
  readonly result: R;
}

export interface CatalogEntry {
  readonly script: StoreScript<unknown>;
  readonly example: ScriptExample<unknown>;
}

const entry = <R>(script: StoreScript<R>, example: ScriptExample<R>): CatalogEntry => ({ script, example });

// A device code's hash, a record in each state, and a far-off expiry: the answers never depend on the clock.
const HASH = 'c0ffee'.repeat(10) + 'c0de';
const FAR = Date.UTC(2100, 0, 1);
const TTL = 600_000;
const record = (over: Partial<DeviceRecord>): string =>
  JSON.stringify({ client_id: 'tessera-cli', scope: 'full', device_label: 'laptop', user_code: 'BCDFGHJK', status: 'pending', interval: 5, last_poll_ms: 0, expires_at_ms: FAR, account_id: '', email: '', lease_until_ms: 0, ...over } satisfies DeviceRecord);
const at = (key: string, value: string) => ({ key, value, ttlMs: TTL });
const approved = { status: 'approved', account_id: 'acct-1', email: 'ada@example.com' } as const;

export const STORE_SCRIPTS: readonly CatalogEntry[] = [
  entry(slidingWindowScript, { given: [], keys: [`rl:token:{${HASH}}`], args: [60, 60_000, 'example-1'], result: [1, 59, 60_000] }),
  // A proof whose jti was recorded before: the request is counted, and answered as a replay (fresh 0).
  entry(slidingWindowProofScript, {
    given: [at(jtiKey(HASH, 'jti-1'), '1')],
    keys: [`rl:token:{${HASH}}`, jtiKey(HASH, 'jti-1')],
    args: [60, 60_000, 'example-1', 120_000],
    result: [1, 59, 60_000, 0],
  }),
  entry(resolveScript, { given: [at(recordKey(HASH), record({}))], keys: [recordKey(HASH)], args: ['approved', 'acct-1', 'ada@example.com'], result: 'ok' }),
  entry(pollScript, {
    given: [at(recordKey(HASH), record(approved))],
    keys: [recordKey(HASH), usedKey(HASH)],
    args: ['tessera-cli', 30_000, 5_000],
    result: { r: 'approved', account_id: 'acct-1', email: 'ada@example.com', device_label: 'laptop', scope: 'full', expires_at_ms: FAR },
  }),
  entry(finishScript, { given: [at(recordKey(HASH), record({ ...approved, status: 'collecting' }))], keys: [recordKey(HASH), usedKey(HASH)], args: ['token-1', TTL, 1_700_000_000_000], result: 1 }),
  entry(unresolveScript, { given: [at(recordKey(HASH), record(approved))], keys: [recordKey(HASH)], args: ['approved', 'acct-1'], result: 1 }),
  entry(releaseScript, { given: [at(recordKey(HASH), record({ ...approved, status: 'collecting', lease_until_ms: FAR }))], keys: [recordKey(HASH)], args: [], result: 1 }),
  entry(resolveExternalScript, {
    given: [at(recordKey(HASH), record({}))],
    keys: [recordKey(HASH), externalKey(HASH)],
    args: ['approved', 'sso@corp.example', JSON.stringify({ issuer: 'https://idp.example', sub: 'u-1', email: 'sso@corp.example', name: null })],
    result: 'ok',
  }),
  entry(takeScript, { given: [at('sso:state:{example}', '{"deviceHash":"x"}')], keys: ['sso:state:{example}'], args: [], result: '{"deviceHash":"x"}' }),
  entry(releaseLockScript, { given: [at('lock:{example}', 'owner-1')], keys: ['lock:{example}'], args: ['owner-1'], result: 1 }),
];
