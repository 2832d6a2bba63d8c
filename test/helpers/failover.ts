import { expect } from 'vitest';
import { hashToken } from '../../src/auth/token-kinds.ts';
import { recordKey } from '../../src/device-flow/device-scripts.ts';
import { consoleSignin, decide } from './console.ts';
import { form, poll, startFlow, type DeviceStart } from './device.ts';
import { createAccount, mintToken, type TestAccount } from './fixtures.ts';
import { reportTiming } from './load.ts';
import { until } from './processes.ts';
import { me } from './replica-pair.ts';
import type { ReplicaProcess } from './replica-process.ts';
import type { TestServer } from './server.ts';

/** Uses per token of the load: well under the limit of 60 per minute, so a 429 is always a fault. */
const USES_PER_TOKEN = 40;

export interface FailoverTopology {
  /** Whether a store key lives on the primary that `kill` stops (with Sentinel: every key). */
  onVictim(key: string): Promise<boolean>;
  /** SIGKILLs that primary. */
  kill(): Promise<void>;
  /** Resolves with the time the deployment promoted its replica (seen by a node or a Sentinel). */
  promoted(): Promise<number>;
  /** Reads a rate window's size from whoever is primary now. */
  windowSize(key: string): Promise<number>;
}

export interface FailoverReport {
  /** `<replica> <kind> <status>` → count; kind is `live`, `revoked` or `probe`. */
  answers: Record<string, number>;
  /** Answers that were wrong: a 200 for a revoked token, a 500, a hang, a 200 with someone else's body. */
  wrong: string[];
  maxLatencyMs: number;
  killToPromotionMs: number;
  /** Per replica: from the promotion to its first 200 for a token whose window is on the lost primary. */
  servingAgainMs: Record<string, number>;
  /**
   * Requests for one token admitted in the last moments before the kill, and the entries its
   * window kept. Fewer kept: entries lost with the primary (the token gets as many extra
   * requests this minute). More kept: a request whose script ran but whose answer was lost
   * with the connection was retried and answered 503, yet counted.
   */
  window: { admitted: number; kept: number };
  /** Device codes started in the last moments (on the lost primary), and how many could still be looked up. */
  pendingCodes: { started: number; kept: number };
  /** A token revoked during the outage: ms from the promotion until the other replica refused it. */
  revokedDuringOutageRefusedMs: number;
}

const windowKey = (token: string) => `rl:token:{${hashToken(token)}}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function tokensWhere(fixture: TestServer, account: TestAccount, n: number, keep: (token: string) => Promise<boolean>): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) {
    if (i > n * 20) throw new Error('could not mint tokens whose window is on the chosen primary');
    const t = await mintToken(fixture, account);
    if (await keep(t)) out.push(t);
  }
  return out;
}

/**
 * A primary lost while both replicas are under load, end to end over HTTP: steady load of
 * live and revoked tokens on both replicas, the last moments' writes (an approval, a
 * sign-out, a burst for one token, fresh device codes), SIGKILL, the promotion, and what
 * came through. Asserts what must hold whatever the timing; returns the figures.
 */
export async function failoverUnderLoad(replicas: ReplicaProcess[], fixture: TestServer, topology: FailoverTopology): Promise<FailoverReport> {
  const [a, b] = replicas as [ReplicaProcess, ReplicaProcess];
  const account = await createAccount(fixture.db);
  const live = await Promise.all(Array.from({ length: 160 }, () => mintToken(fixture, account)));
  const onVictim = (t: string) => topology.onVictim(windowKey(t));
  const probes = await tokensWhere(fixture, account, 12, onVictim);
  const [burstToken] = await tokensWhere(fixture, account, 1, onVictim);
  const revoked = await Promise.all(Array.from({ length: 24 }, () => mintToken(fixture, account)));
  const [revokedLater] = await tokensWhere(fixture, account, 1, onVictim);
  const revokeOn = (url: string, token: string) => form(`${url}/openapi/v1/oauth/revoke`, { token });

  // Warm: every token's identity cached on both replicas; then the revoked ones are refused everywhere.
  for (const r of replicas) for (const t of [...live, ...probes, ...revoked, revokedLater!]) expect((await me(r, t)).status).toBe(200);
  for (const t of revoked) expect((await revokeOn(a.url, t)).status).toBe(200);
  for (const r of replicas) for (const t of revoked) expect((await me(r, t)).status).toBe(401);

  // What the last moments before the kill write.
  const approvalFlow = await startFlowOnVictim(a, topology);
  const approver = await consoleSignin(b, account);
  const leaving = await consoleSignin(a, account);

  const answers: Record<string, number> = {};
  const wrong: string[] = [];
  let maxLatencyMs = 0;
  const uses = new Map<string, number>();
  const record = async (r: ReplicaProcess, kind: 'live' | 'revoked' | 'probe', token: string): Promise<number> => {
    const t0 = Date.now();
    let status: string;
    try {
      const res = await me(r, token);
      const body = (await res.json()) as { sub?: string };
      status = String(res.status);
      if (res.status === 200 && (kind === 'revoked' || body.sub !== account.id)) wrong.push(`${r.name} ${kind}: 200 ${JSON.stringify(body)}`);
    } catch (err) {
      status = (err as Error).name === 'TimeoutError' ? 'hang' : 'error';
    }
    const ms = Date.now() - t0;
    maxLatencyMs = Math.max(maxLatencyMs, ms);
    const key = `${r.name} ${kind} ${status}`;
    answers[key] = (answers[key] ?? 0) + 1;
    const allowed = status === '503' || (status === '200' && kind !== 'revoked') || (status === '401' && kind === 'revoked');
    if (!allowed) wrong.push(`${key} after ${ms} ms`);
    return Number(status);
  };

  let running = true;
  let next = 0;
  /** The next token of a pool that has uses left (every request counts in its window, a refused one too). */
  const take = (pool: string[], n: number): string => {
    for (let i = 0; i < pool.length; i++) {
      const t = pool[(n + i) % pool.length]!;
      if ((uses.get(t) ?? 0) < USES_PER_TOKEN) {
        uses.set(t, (uses.get(t) ?? 0) + 1);
        return t;
      }
    }
    throw new Error('the load used up its tokens: mint more');
  };
  const worker = async (r: ReplicaProcess) => {
    while (running) {
      const n = next++;
      const status = n % 10 === 0 ? await record(r, 'revoked', take(revoked, n)) : await record(r, 'live', take(live, n));
      // A 503 comes back at once while the primary is gone: back off as a client would, so the
      // outage does not spend every token's uses within a second (each request counts in its window).
      if (status !== 200 && status !== 401) await sleep(10);
    }
  };
  const workers = replicas.flatMap((r) => Array.from({ length: 3 }, () => worker(r)));
  await until(async () => (answers[`${a.name} live 200`] ?? 0) + (answers[`${b.name} live 200`] ?? 0) >= 60, 'the load to flow', 30_000, 20);

  // The last moments: an approval, a sign-out and fresh device codes, each acknowledged; then a
  // burst for one token, and the kill once a third of it has been answered (the rest in flight).
  expect((await decide(b, 'approve', approvalFlow.user_code, approver)).status).toBe(200);
  expect((await fetch(`${a.url}/console/api/signout`, { method: 'POST', headers: { cookie: leaving.cookie, 'x-csrf-token': leaving.csrf } })).status).toBe(204);
  const codes = await Promise.all(Array.from({ length: 12 }, (_, i) => startFlow(i % 2 ? b : a)));
  const promotion = topology.promoted();
  let killedAt = 0;
  let killed: Promise<void> | null = null;
  const kill = () => {
    killedAt ||= Date.now();
    return (killed ??= topology.kill());
  };
  let answered = 0;
  const burst = Array.from({ length: 45 }, (_, i) =>
    me(i % 2 ? b : a, burstToken!)
      .then((res) => {
        if (++answered === 15) void kill();
        return res.status;
      })
      .catch(() => 0),
  );
  const burstStatuses = await Promise.all(burst);
  await kill();
  expect(burstStatuses.every((s) => s === 200 || s === 503)).toBe(true);

  // During the outage: a token revoked on one replica (Postgres records it; the invalidation goes out when it can).
  expect((await revokeOn(a.url, revokedLater!)).status).toBe(200);
  const refusal = firstRefusal(b, revokedLater!, wrong);

  const servingAgainAt: Record<string, number> = {};
  const probe = async (r: ReplicaProcess) => {
    const giveUp = Date.now() + 30_000;
    for (let i = 0; Date.now() < giveUp; i++) {
      if ((await record(r, 'probe', probes[i % probes.length]!)) === 200) {
        servingAgainAt[r.name] = Date.now();
        return;
      }
      await sleep(25);
    }
    throw new Error(`replica ${r.name} did not serve keys of the lost primary within 30 s of the promotion`);
  };
  const promotedAt = await promotion;
  const [, refusedAt] = await Promise.all([Promise.all(replicas.map(probe)), refusal]);
  // A little more load after recovery, then stop.
  await sleep(500);
  running = false;
  await Promise.all(workers);

  const admitted = burstStatuses.filter((s) => s === 200).length;
  const onLost: DeviceStart[] = [];
  for (const c of codes) if (await topology.onVictim(recordKey(hashToken(c.device_code)))) onLost.push(c);
  const keptCodes = await Promise.all(onLost.map(async (c) => ((await (await fetch(`${b.url}/openapi/v1/oauth/device/lookup?user_code=${c.user_code}`)).json()) as { valid: boolean }).valid));

  // What survives because it is in Postgres too: the approval is collected once, the sign-out holds.
  const collected = await poll(a, approvalFlow.device_code);
  expect(collected.status).toBe(200);
  for (const r of replicas) expect((await fetch(`${r.url}/console/api/session`, { headers: { cookie: leaving.cookie } })).status).toBe(401);

  return {
    answers,
    wrong,
    maxLatencyMs,
    killToPromotionMs: promotedAt - killedAt,
    servingAgainMs: Object.fromEntries(replicas.map((r) => [r.name, servingAgainAt[r.name]! - promotedAt])),
    window: { admitted, kept: await topology.windowSize(windowKey(burstToken!)) },
    pendingCodes: { started: onLost.length, kept: keptCodes.filter(Boolean).length },
    revokedDuringOutageRefusedMs: refusedAt - promotedAt,
  };
}

/** A device code whose record lives on the primary about to be lost. */
async function startFlowOnVictim(server: ReplicaProcess, topology: FailoverTopology): Promise<DeviceStart> {
  for (let i = 0; i < 40; i++) {
    const flow = await startFlow(server);
    if (await topology.onVictim(recordKey(hashToken(flow.device_code)))) return flow;
  }
  throw new Error('no device code landed on the chosen primary');
}

/** When `server` first refused `token` (401); a 200 after that is recorded as wrong. */
async function firstRefusal(server: ReplicaProcess, token: string, wrong: string[]): Promise<number> {
  let refusedAt = 0;
  for (let i = 0; i < 400 && !refusedAt; i++) {
    const status = (await me(server, token)).status;
    if (status === 401) refusedAt = Date.now();
    else await sleep(25);
  }
  if (!refusedAt) throw new Error('the token revoked during the outage was never refused');
  for (let i = 0; i < 5; i++) if ((await me(server, token)).status === 200) wrong.push(`${server.name}: a refused revoked token accepted again`);
  return refusedAt;
}

/** The figures of a failover, on stderr when REPORT_TIMINGS is set (for docs/operations.md). */
export function reportFailover(name: string, r: FailoverReport): void {
  reportTiming(`${name}: kill → promotion`, r.killToPromotionMs);
  for (const [replica, ms] of Object.entries(r.servingAgainMs)) reportTiming(`${name}: promotion → replica ${replica} serves keys of the lost primary`, ms);
  reportTiming(`${name}: promotion → the token revoked during the outage refused elsewhere`, r.revokedDuringOutageRefusedMs);
  reportTiming(`${name}: slowest answer`, r.maxLatencyMs);
  if (process.env.REPORT_TIMINGS) {
    process.stderr.write(`failover ${name}: answers ${JSON.stringify(r.answers)}\n`);
    process.stderr.write(`failover ${name}: last-moment window admitted ${r.window.admitted}, kept ${r.window.kept}; pending codes on the lost primary ${r.pendingCodes.started}, kept ${r.pendingCodes.kept}\n`);
  }
}
