import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import type { RedisDeployment } from '../../src/storage/store/index.ts';
import { freePort, RedisProcess, redisCliBinary, until } from './processes.ts';

/**
 * Real Redis Cluster and Sentinel deployments for the topology tests, from Debian's
 * redis-server and redis-cli, on free ports in temp dirs; each test file starts one and
 * closes it (processes and directories) in afterAll. Missing binaries fail loudly.
 */

const NO_PERSISTENCE = ['--save', '', '--appendonly', 'no'];
const NODE_TIMEOUT_MS = 1_000;
const ANSWER = { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1_000, commandTimeout: 2_000 };

/** A command to one node, on a connection of its own (a killed node answers with a rejection, not a hang). */
export async function ask<T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({ port, host: '127.0.0.1', ...ANSWER });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

export interface Subscriber {
  port: number;
  /** The connection's CLIENT id on that node. */
  id: string;
  channels: number;
}

/** The subscriber connections of the process `pid` on the given nodes (its store names them), and how many channels each holds. */
export async function subscribersOf(pid: number, ports: number[]): Promise<Subscriber[]> {
  const found: Subscriber[] = [];
  for (const port of ports) {
    const list = await ask(port, (r) => r.call('CLIENT', 'LIST', 'TYPE', 'pubsub') as Promise<string>).catch(() => '');
    for (const line of list.split('\n')) {
      if (!new RegExp(`\\bname=tessera:[^ ]*:${pid}:subscriber\\b`).test(line)) continue;
      found.push({ port, id: /\bid=(\d+)/.exec(line)![1]!, channels: Number(/\bsub=(\d+)/.exec(line)?.[1] ?? 0) });
    }
  }
  return found;
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${out.slice(-2_000)}`))));
  });
}

export interface ClusterNode {
  id: string;
  port: number;
  master: boolean;
  failed: boolean;
  /** The id of its primary (replicas only). */
  masterId: string | null;
  slots: [number, number][];
}

export function parseClusterNodes(text: string): ClusterNode[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [id, address, flags, master, , , , , ...slots] = line.trim().split(' ');
      return {
        id: id!,
        port: Number(/:(\d+)@/.exec(address!)![1]),
        master: flags!.split(',').includes('master'),
        failed: /\bfail\b/.test(flags!),
        masterId: master === '-' ? null : master!,
        slots: slots.filter((s) => /^\d/.test(s)).map((s) => (s.includes('-') ? (s.split('-').map(Number) as [number, number]) : [Number(s), Number(s)])),
      };
    });
}

/** Three primaries with one replica each (`--cluster-node-timeout 1000`), made by `redis-cli --cluster create`. */
export class RedisCluster {
  private constructor(readonly nodes: RedisProcess[]) {}

  static async start(masters = 3): Promise<RedisCluster> {
    // The bus port is chosen too (cluster-port): by default it is port + 10000, which nobody checked was free.
    const node = async () => RedisProcess.start([...NO_PERSISTENCE, '--cluster-enabled', 'yes', '--cluster-node-timeout', String(NODE_TIMEOUT_MS), '--cluster-port', String(await freePort())]);
    const nodes: RedisProcess[] = [];
    const cluster = new RedisCluster(nodes);
    try {
      for (let i = 0; i < masters * 2; i++) nodes.push(await node());
      await run(redisCliBinary(), ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes']);
      await until(async () => (await cluster.health()).every(Boolean), 'every cluster node to be ok and every replica in sync', 30_000, 100);
    } catch (err) {
      await cluster.close();
      throw err;
    }
    return cluster;
  }

  /** Per node: it sees the cluster as ok with every slot served, and (a replica) its link to its primary is up. */
  private health(): Promise<boolean[]> {
    return Promise.all(
      this.nodes.map((n) =>
        ask(n.port, async (r) => {
          const info = await r.cluster('INFO');
          const replication = await r.info('replication');
          return /cluster_state:ok/.test(info) && /cluster_slots_ok:16384/.test(info) && (/role:master/.test(replication) || /master_link_status:up/.test(replication));
        }).catch(() => false),
      ),
    );
  }

  get deployment(): Extract<RedisDeployment, { kind: 'cluster' }> {
    return { kind: 'cluster', nodes: this.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })), credentials: { username: null, password: null, tls: false } };
  }

  get env(): Record<string, string> {
    return { REDIS_CLUSTER_NODES: this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',') };
  }

  /** The cluster as a node that is still running sees it. */
  async view(): Promise<ClusterNode[]> {
    for (const n of this.nodes.filter((x) => x.running)) {
      const text = await ask(n.port, (r) => r.cluster('NODES') as Promise<string>).catch(() => null);
      if (text) return parseClusterNodes(text);
    }
    throw new Error('no cluster node answers');
  }

  async masters(): Promise<ClusterNode[]> {
    return (await this.view()).filter((n) => n.master && !n.failed && n.slots.length > 0);
  }

  async slotOf(key: string): Promise<number> {
    return ask(this.nodes.find((n) => n.running)!.port, (r) => r.cluster('KEYSLOT', key) as Promise<number>);
  }

  /** The primary that serves a key now. */
  async ownerOf(key: string): Promise<ClusterNode> {
    const slot = await this.slotOf(key);
    const owner = (await this.masters()).find((m) => m.slots.some(([a, b]) => slot >= a && slot <= b));
    if (!owner) throw new Error(`no primary serves slot ${slot}`);
    return owner;
  }

  /** The nodes on which someone subscribes to `channel` (each node keeps its own subscribers). */
  async hostsOf(channel: string): Promise<number[]> {
    const hosts: number[] = [];
    for (const n of this.nodes.filter((x) => x.running)) {
      const [, count] = (await ask(n.port, (r) => r.call('PUBSUB', 'NUMSUB', channel)).catch(() => [channel, 0])) as [string, number];
      if (count > 0) hosts.push(n.port);
    }
    return hosts;
  }

  process(port: number): RedisProcess {
    return this.nodes.find((n) => n.port === port)!;
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.close()));
  }
}

/** One primary, one replica, three Sentinels (`down-after-milliseconds 1000`, quorum 2). */
export class RedisSentinels {
  private constructor(
    readonly primary: RedisProcess,
    readonly replica: RedisProcess,
    readonly sentinels: RedisProcess[],
    readonly masterName: string,
  ) {}

  static async start(masterName = 'mymaster'): Promise<RedisSentinels> {
    const started: RedisProcess[] = [];
    try {
      const primary = await RedisProcess.start(NO_PERSISTENCE);
      started.push(primary);
      const replica = await RedisProcess.start([...NO_PERSISTENCE, '--replicaof', '127.0.0.1', String(primary.port)]);
      started.push(replica);
      const config = [
        `sentinel monitor ${masterName} 127.0.0.1 ${primary.port} 2`,
        `sentinel down-after-milliseconds ${masterName} ${NODE_TIMEOUT_MS}`,
        `sentinel failover-timeout ${masterName} 10000`,
        `sentinel parallel-syncs ${masterName} 1`,
        '',
      ].join('\n');
      const sentinels: RedisProcess[] = [];
      for (let i = 0; i < 3; i++) {
        const s = await RedisProcess.start(['--sentinel'], config);
        sentinels.push(s);
        started.push(s);
      }
      const group = new RedisSentinels(primary, replica, sentinels, masterName);
      await until(() => group.settled(), 'the replica to sync and the Sentinels to know it and each other', 30_000, 100);
      return group;
    } catch (err) {
      await Promise.all(started.map((p) => p.close()));
      throw err;
    }
  }

  /** A failover needs a synced replica, and Sentinels that know it and each other (hello messages, every 2 s). */
  private async settled(): Promise<boolean> {
    const link = await ask(this.replica.port, (r) => r.info('replication'));
    if (!/master_link_status:up/.test(link)) return false;
    const views = await Promise.all(
      this.sentinels.map((s) =>
        ask(s.port, async (r) => {
          const replicas = (await r.call('SENTINEL', 'REPLICAS', this.masterName)) as unknown[];
          const others = (await r.call('SENTINEL', 'SENTINELS', this.masterName)) as unknown[];
          return replicas.length === 1 && others.length === 2;
        }),
      ),
    );
    return views.every(Boolean);
  }

  get deployment(): Extract<RedisDeployment, { kind: 'sentinel' }> {
    return {
      kind: 'sentinel',
      sentinels: this.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
      masterName: this.masterName,
      sentinelPassword: null,
      credentials: { username: null, password: null, tls: false },
    };
  }

  get env(): Record<string, string> {
    return { REDIS_SENTINELS: this.sentinels.map((s) => `127.0.0.1:${s.port}`).join(','), REDIS_SENTINEL_MASTER: this.masterName };
  }

  /** The primary's port as the Sentinels report it. */
  async primaryPort(): Promise<number> {
    for (const s of this.sentinels) {
      const addr = await ask(s.port, (r) => r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.masterName) as Promise<[string, string]>).catch(() => null);
      if (addr) return Number(addr[1]);
    }
    throw new Error('no Sentinel answers');
  }

  /** Resolves with the time a Sentinel announces the next switch to a new primary (`+switch-master`). */
  async nextSwitch(): Promise<number> {
    const sub = new Redis({ port: this.sentinels[0]!.port, host: '127.0.0.1', lazyConnect: true });
    sub.on('error', () => undefined);
    try {
      await sub.connect();
      await sub.subscribe('+switch-master');
      return await new Promise<number>((resolve, reject) => {
        sub.once('message', () => resolve(Date.now()));
        setTimeout(() => reject(new Error('no +switch-master within 30 s')), 30_000).unref();
      });
    } finally {
      sub.disconnect();
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.sentinels, this.primary, this.replica].map((p) => p.close()));
  }
}
