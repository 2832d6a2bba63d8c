import type { RedisDeployment } from '../../src/storage/store/index.ts';
import { freePort, RedisProcess, redisCliBinary, until } from './processes.ts';
import { ask, NO_PERSISTENCE, NODE_TIMEOUT_MS, run } from './redis-topologies.ts';

/**
 * A real Redis Cluster for a topology test, from Debian's redis-server and redis-cli, on free
 * ports in temp dirs; the test file starts it once and closes it (processes and directories)
 * in afterAll. Missing binaries fail loudly.
 */
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
