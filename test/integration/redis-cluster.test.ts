import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/auth/token-kinds.ts';
import { recordKey, usedKey } from '../../src/device-flow/device-scripts.ts';
import { STORE_SCRIPTS } from '../../src/store-scripts.ts';
import { RedisStore } from '../../src/storage/store/index.ts';
import { topologyFor } from '../../src/storage/store/redis-topology.ts';
import { startFlow } from '../helpers/device.ts';
import { failoverUnderLoad, reportFailover } from '../helpers/failover.ts';
import { mintToken } from '../helpers/fixtures.ts';
import { until } from '../helpers/processes.ts';
import { RedisCluster, type ClusterNode } from '../helpers/redis-cluster-process.ts';
import { ask, subscribersOf, type Subscriber } from '../helpers/redis-topologies.ts';
import { describeReplicaPair, HANG_MS, loginAndRevokeAcross, me, startReplicaPair, type ReplicaPair } from '../helpers/replica-pair.ts';
import { describeStoreContract } from '../helpers/store-contract.ts';

// One Redis Cluster for the whole file (3 primaries, 1 replica each, node timeout 1 s), two
// Tessera replicas in processes of their own on it and on the test database, and this
// worker's own app instance on it, which mints tokens for the tests. The last test kills a
// primary; everything before it runs on the intact cluster.
let cluster: RedisCluster;
let pair: ReplicaPair;

beforeAll(async () => {
  cluster = await RedisCluster.start();
  pair = await startReplicaPair(cluster.deployment, cluster.env);
}, 180_000);
afterAll(async () => {
  await pair?.close();
  await cluster?.close();
});

describeStoreContract('RedisStore on Redis Cluster', () => RedisStore.open(topologyFor(cluster.deployment)));

describeReplicaPair('redis_cluster', () => pair);

describe('every store script on a real cluster', () => {
  it.each(STORE_SCRIPTS.map((e) => [e.script.name, e] as const))('when %s runs its example on the cluster, then it answers as documented, its keys in one slot', async (_name, { script, example }) => {
    const store = pair.fixture.store;
    const slots = await Promise.all(example.keys.map((k) => cluster.slotOf(k)));
    expect(new Set(slots).size).toBe(1);
    await store.del(...example.keys);
    for (const g of example.given) await store.set(g.key, g.value, g.ttlMs);
    expect(await store.run(script, [...example.keys], [...example.args])).toEqual(example.result);
  });
});

describe('keys on a cluster', () => {
  it('when many tokens and device codes are used, then their keys spread over all three primaries, and one code keeps its keys in one slot', async () => {
    const tokens = await Promise.all(Array.from({ length: 30 }, () => mintToken(pair.fixture, pair.account)));
    for (const [i, t] of tokens.entries()) expect((await me(i % 2 ? pair.a : pair.b, t)).status).toBe(200);
    const masters = await cluster.masters();
    const owners = await Promise.all(tokens.map(async (t) => (await cluster.ownerOf(`rl:token:{${hashToken(t)}}`)).port));
    const sizes = await Promise.all(masters.map((m) => ask(m.port, (r) => r.dbsize())));
    for (const m of masters) expect(owners).toContain(m.port);
    expect(sizes.every((n) => n > 0)).toBe(true);
    // A window is on the primary that owns its slot, and on no other.
    const key = `rl:token:{${hashToken(tokens[0]!)}}`;
    const owner = await cluster.ownerOf(key);
    for (const m of masters) expect(await ask(m.port, (r) => r.call('EXISTS', key).catch((e: Error) => e.message.split(' ')[0]))).toBe(m.port === owner.port ? 1 : 'MOVED');

    const flow = await startFlow(pair.a);
    const hash = hashToken(flow.device_code);
    expect(await cluster.slotOf(recordKey(hash))).toBe(await cluster.slotOf(usedKey(hash)));
  });
});

describe('a primary killed under load', () => {
  it('when a primary that carries subscriptions is SIGKILLed while both replicas serve, then every answer is correct or 503, both serve again within 5 s of the promotion, subscriptions move and are live again, and logins and revocations work afterwards', async () => {
    // A store of this worker, whose subscription we can watch: put it, and replica a's, on the primary to be killed.
    const watcher = await RedisStore.open(topologyFor(cluster.deployment));
    const channel = `test:watch:${randomUUID()}`;
    const states: boolean[] = [];
    const heard: string[] = [];
    await watcher.subscribe(channel, (m) => heard.push(m), (live) => states.push(live));
    const victim = await primaryHosting(async () => (await cluster.hostsOf(channel))[0]);
    const before = await moveSubscriber(pair.a.pid, victim.port);
    await until(async () => states.at(-1) === true, 'the watching store to be live');
    states.length = 0;
    const heir = (await cluster.view()).find((n) => n.masterId === victim.id)!;
    const inVictimSlots = async (key: string) => {
      const slot = await cluster.slotOf(key);
      return victim.slots.some(([lo, hi]) => slot >= lo && slot <= hi);
    };
    const inspect = new Cluster(cluster.deployment.nodes.map((n) => ({ ...n })));
    try {
      const report = await failoverUnderLoad([pair.a, pair.b], pair.fixture, {
        onVictim: inVictimSlots,
        kill: () => cluster.process(victim.port).stop('SIGKILL'),
        promoted: async () => {
          await until(async () => (await ask(heir.port, (r) => r.role()))[0] === 'master', 'the replica to be promoted', 30_000, 20);
          return Date.now();
        },
        windowSize: (key) => inspect.zcard(key),
      });
      reportFailover('cluster', report);
      expect(report.wrong).toEqual([]);
      expect(report.maxLatencyMs).toBeLessThan(HANG_MS);
      for (const ms of Object.values(report.servingAgainMs)) expect(ms).toBeLessThan(5_000);

      // The subscriptions on the lost primary were reported lost, moved to a live node, and are whole and live again.
      const live = cluster.nodes.filter((n) => n.running).map((n) => n.port);
      await until(async () => {
        const now = await subscribersOf(pair.a.pid, live);
        return now.length === 1 && now[0]!.channels === before.channels;
      }, "replica a's subscriptions on a live node");
      await until(async () => states.at(-1) === true, 'the watching store to be live again');
      expect(states[0]).toBe(false);
      expect(states.at(-1)).toBe(true);
      await pair.fixture.store.publish(channel, 'after');
      await until(async () => heard.includes('after'), 'a message after the failover');
    } finally {
      inspect.disconnect();
      await watcher.close();
    }
    // Afterwards: a new login across the replicas, and invalidations flow between them again.
    await loginAndRevokeAcross(pair);
  }, 180_000);
});

/** Moves the subscriptions on the node `where` names (CLIENT KILL: they relink to a random node) until it is a primary. */
async function primaryHosting(where: () => Promise<number | undefined>): Promise<ClusterNode> {
  for (let i = 0; i < 40; i++) {
    const port = await where();
    const master = port === undefined ? undefined : (await cluster.masters()).find((m) => m.port === port);
    if (master) return master;
    if (port !== undefined) await ask(port, (r) => r.call('CLIENT', 'KILL', 'TYPE', 'pubsub'));
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error('the subscription never landed on a primary');
}

/** Moves a replica process's subscriber (killing its connection: it relinks to a random node) until it is on `port`. */
async function moveSubscriber(pid: number, port: number): Promise<Subscriber> {
  const all = cluster.nodes.map((n) => n.port);
  for (let i = 0; i < 60; i++) {
    const [sub] = await subscribersOf(pid, all);
    if (sub?.port === port && sub.channels > 0) return sub;
    if (sub) await ask(sub.port, (r) => r.call('CLIENT', 'KILL', 'ID', sub.id)).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`the subscriber of ${pid} never landed on ${port}`);
}
