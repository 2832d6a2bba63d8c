import { z } from 'zod';
import type { HostPort, RedisDeployment } from './storage/store/index.ts';

/** `host:port` or `[v6]:port`, comma-separated. */
export const hostPorts = z.string().transform((v, ctx): HostPort[] => {
  const out: HostPort[] = [];
  for (const item of v.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):(\d{1,5})$/.exec(item);
    const port = Number(m?.[2]);
    if (!m || port < 1 || port > 65535) {
      ctx.addIssue({ code: 'custom', message: `expected comma-separated host:port, e.g. 10.0.0.1:26379,10.0.0.2:26379 (got "${item}")` });
      return z.NEVER;
    }
    out.push({ host: m[1]!.replace(/^\[|\]$/g, ''), port });
  }
  if (out.length === 0) ctx.addIssue({ code: 'custom', message: 'expected at least one host:port' });
  return out;
});

/** The Redis settings as parsed (config.ts holds one schema per variable, so an error names it). */
export interface RedisSettings {
  REDIS_URL?: string;
  REDIS_SENTINELS?: HostPort[];
  REDIS_SENTINEL_MASTER?: string;
  REDIS_SENTINEL_PASSWORD?: string;
  REDIS_CLUSTER_NODES?: HostPort[];
  REDIS_USERNAME?: string;
  REDIS_PASSWORD?: string;
  REDIS_TLS?: boolean;
}

const DEPLOYMENTS = ['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'] as const;

/**
 * Which deployment the settings name: exactly one of REDIS_URL, REDIS_SENTINELS and
 * REDIS_CLUSTER_NODES, or none (the in-process store). A setting that the chosen deployment
 * would ignore is refused rather than ignored: it is a mistake someone will look for later.
 */
export function redisDeployment(r: RedisSettings, fail: (variable: string, detail: string) => never): RedisDeployment | null {
  const chosen = DEPLOYMENTS.filter((name) => r[name] !== undefined);
  if (chosen.length > 1) fail(chosen.join(', '), `set only one of ${DEPLOYMENTS.join(', ')}`);
  const credentials = { username: r.REDIS_USERNAME ?? null, password: r.REDIS_PASSWORD ?? null, tls: r.REDIS_TLS ?? false };
  const sentinelOnly = (['REDIS_SENTINEL_MASTER', 'REDIS_SENTINEL_PASSWORD'] as const).find((name) => r[name] !== undefined);
  if (sentinelOnly && !r.REDIS_SENTINELS) fail(sentinelOnly, 'applies only with REDIS_SENTINELS');
  if (r.REDIS_SENTINELS) {
    return { kind: 'sentinel', sentinels: r.REDIS_SENTINELS, masterName: r.REDIS_SENTINEL_MASTER ?? 'mymaster', sentinelPassword: r.REDIS_SENTINEL_PASSWORD ?? null, credentials };
  }
  if (r.REDIS_CLUSTER_NODES) return { kind: 'cluster', nodes: r.REDIS_CLUSTER_NODES, credentials };
  const nodeSetting = (['REDIS_USERNAME', 'REDIS_PASSWORD', 'REDIS_TLS'] as const).find((name) => r[name] !== undefined);
  if (nodeSetting) {
    fail(nodeSetting, r.REDIS_URL ? 'applies to REDIS_SENTINELS and REDIS_CLUSTER_NODES; with REDIS_URL put the user and password in the URL and use rediss:// for TLS' : 'applies only with REDIS_SENTINELS or REDIS_CLUSTER_NODES');
  }
  return r.REDIS_URL ? { kind: 'redis', url: r.REDIS_URL } : null;
}
