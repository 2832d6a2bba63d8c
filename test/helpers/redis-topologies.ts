import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';

/**
 * What the Redis Cluster and Sentinel deployments of the topology tests share
 * (redis-cluster-process.ts, redis-sentinel-process.ts): commands to one node, and where a
 * replica's subscriptions are.
 */

export const NO_PERSISTENCE = ['--save', '', '--appendonly', 'no'];
/** How long a primary may be silent before it is judged down (cluster-node-timeout, down-after-milliseconds). */
export const NODE_TIMEOUT_MS = 1_000;
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

export function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${out.slice(-2_000)}`))));
  });
}
