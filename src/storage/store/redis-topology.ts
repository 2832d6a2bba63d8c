import { hostname } from 'node:os';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { StoreDeployment } from './store.ts';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** ACL user, password and TLS of the data nodes (Sentinel and Cluster; one Redis carries them in its URL). */
export interface RedisCredentials {
  readonly username: string | null;
  readonly password: string | null;
  readonly tls: boolean;
}

/** The Redis deployment the settings name: exactly one of REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES. */
export type RedisDeployment =
  | { readonly kind: 'redis'; readonly url: string }
  | {
      readonly kind: 'sentinel';
      readonly sentinels: readonly HostPort[];
      readonly masterName: string;
      readonly sentinelPassword: string | null;
      readonly credentials: RedisCredentials;
    }
  | { readonly kind: 'cluster'; readonly nodes: readonly HostPort[]; readonly credentials: RedisCredentials };

/**
 * How the store reaches one deployment. Everything above this (scripts, keys, pub/sub)
 * is the same for all three: ioredis's `Redis` and `Cluster` share one command interface,
 * and subscriptions always ride on a plain connection to a node that hears every PUBLISH.
 */
export interface RedisTopology {
  readonly deployment: StoreDeployment;
  /** The client every command goes through (auto-pipelined). */
  readonly commands: Redis | Cluster;
  /**
   * A fresh connection for subscriptions. When it ends (its node is gone for good), the
   * store asks for another: one Redis and Sentinel reconnect by themselves and never end;
   * a cluster's subscriber moves to another node.
   */
  subscriber(): Redis;
}

// Fail fast while Redis is down (503 instead of a hang); reconnect in the background.
const NODE_OPTIONS = {
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 2_000,
  commandTimeout: 2_000,
  // Reconnect attempts are cheap; a short cap keeps recovery well under 2 s after Redis returns.
  retryStrategy: (times: number) => Math.min(50 * times, 500),
} satisfies RedisOptions;

// CLIENT LIST on any node tells which replica (host and pid) a connection belongs to.
const NAME = `tessera:${hostname().replace(/[^\w.-]/g, '_')}:${process.pid}`;

/**
 * Our own resubscription (RedisStore) replaces ioredis's, so that a subscription is
 * reported live only once it is confirmed; a subscriber waits for its connection forever.
 */
const SUBSCRIBER_OPTIONS = { autoResubscribe: false, maxRetriesPerRequest: null, connectionName: `${NAME}:subscriber` } satisfies RedisOptions;

/** Auto-pipelining batches the commands of concurrent requests into one write. */
const COMMAND_OPTIONS = { enableAutoPipelining: true } satisfies RedisOptions;

function credentialOptions(c: RedisCredentials): RedisOptions {
  return { username: c.username ?? undefined, password: c.password ?? undefined, tls: c.tls ? {} : undefined };
}

export function singleRedis(url: string): RedisTopology {
  return {
    deployment: 'redis',
    commands: new Redis(url, { ...NODE_OPTIONS, ...COMMAND_OPTIONS, connectionName: NAME }),
    subscriber: () => new Redis(url, { ...NODE_OPTIONS, ...SUBSCRIBER_OPTIONS }),
  };
}

/** ioredis asks the Sentinels for the current primary at every (re)connect, and checks its role. */
export function sentinelRedis(d: Extract<RedisDeployment, { kind: 'sentinel' }>): RedisTopology {
  const options: RedisOptions = {
    ...NODE_OPTIONS,
    ...credentialOptions(d.credentials),
    sentinels: d.sentinels.map((s) => ({ host: s.host, port: s.port })),
    name: d.masterName,
    role: 'master',
    sentinelPassword: d.sentinelPassword ?? undefined,
    enableTLSForSentinelMode: d.credentials.tls,
    sentinelTLS: d.credentials.tls ? {} : undefined,
    // The Sentinels are asked again after each failed attempt, at the data nodes' pace.
    sentinelRetryStrategy: NODE_OPTIONS.retryStrategy,
  };
  return {
    deployment: 'redis_sentinel',
    commands: new Redis({ ...options, ...COMMAND_OPTIONS, connectionName: NAME }),
    subscriber: () => new Redis({ ...options, ...SUBSCRIBER_OPTIONS }),
  };
}

/**
 * The cluster client follows MOVED/ASK and re-reads the slot map after a failover, retrying a
 * command whose node is lost or re-electing (CLUSTERDOWN, TRYAGAIN) every 100 ms, at most 16
 * times: 1.6 s, inside the 2 s that the command timeout gives a command sent to a node, so a
 * command that cannot be served fails within about 2 s as with one Redis. A PUBLISH reaches every
 * node of a cluster, so the subscriber may sit on any of them; it never reconnects to its
 * node (a killed primary stays away) but ends, and the next one goes to another node.
 */
export function clusterRedis(d: Extract<RedisDeployment, { kind: 'cluster' }>): RedisTopology {
  const seeds = d.nodes.map((n) => ({ host: n.host, port: n.port }));
  const nodeOptions: RedisOptions = { ...NODE_OPTIONS, ...credentialOptions(d.credentials), connectionName: NAME };
  const options: ClusterOptions = {
    // No auto-pipelining here: ioredis retries a batch only when all its commands failed alike,
    // so while slots move (a failover, a resharding) a batch of commands for several slots would
    // fail with MOVED instead of being redirected; one command at a time is redirected and retried.
    enableAutoPipelining: false,
    lazyConnect: true,
    enableOfflineQueue: false,
    scaleReads: 'master',
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    maxRedirections: 16,
    slotsRefreshTimeout: 1_000,
    clusterRetryStrategy: NODE_OPTIONS.retryStrategy,
    redisOptions: nodeOptions,
  };
  const commands = new Cluster(seeds, options);
  let last = '';
  return {
    deployment: 'redis_cluster',
    commands,
    subscriber() {
      const known = commands.nodes('all').map((n) => ({ host: n.options.host!, port: n.options.port! }));
      const candidates = (known.length > 0 ? known : seeds).filter((n, _, all) => all.length === 1 || `${n.host}:${n.port}` !== last);
      const node = candidates[Math.floor(Math.random() * candidates.length)]!;
      last = `${node.host}:${node.port}`;
      return new Redis({ ...nodeOptions, ...SUBSCRIBER_OPTIONS, host: node.host, port: node.port, retryStrategy: () => null });
    },
  };
}

/** The one place a deployment is chosen. */
export function topologyFor(d: RedisDeployment): RedisTopology {
  if (d.kind === 'sentinel') return sentinelRedis(d);
  if (d.kind === 'cluster') return clusterRedis(d);
  return singleRedis(d.url);
}
