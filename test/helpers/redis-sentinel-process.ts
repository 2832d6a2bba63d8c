import { Redis } from 'ioredis';
import type { RedisDeployment } from '../../src/storage/store/index.ts';
import { RedisProcess, until } from './processes.ts';
import { ask, NO_PERSISTENCE, NODE_TIMEOUT_MS } from './redis-topologies.ts';

/**
 * A real Redis Sentinel deployment for a topology test, from Debian's redis-server (a Sentinel
 * is `redis-server <config> --sentinel`), on free ports in temp dirs; the test file starts it
 * once and closes it (processes and directories) in afterAll.
 */
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
