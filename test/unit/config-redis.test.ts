import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

const noCredentials = { username: null, password: null, tls: false };

describe('Redis deployment settings', () => {
  it('when no Redis is set, then the store is in-process', () => {
    expect(loadConfig({}).redis).toBeNull();
  });

  it('when REDIS_URL is set, then one Redis', () => {
    expect(loadConfig({ REDIS_URL: 'rediss://user:pw@cache.internal:6380/2' }).redis).toEqual({ kind: 'redis', url: 'rediss://user:pw@cache.internal:6380/2' });
  });

  it('when REDIS_SENTINELS is set, then Sentinel with the default master name, and credentials for the data nodes and the Sentinels', () => {
    expect(loadConfig({ REDIS_SENTINELS: '10.0.0.1:26379, 10.0.0.2:26379,[::1]:26380' }).redis).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: '10.0.0.2', port: 26379 },
        { host: '::1', port: 26380 },
      ],
      masterName: 'mymaster',
      sentinelPassword: null,
      credentials: noCredentials,
    });
    const c = loadConfig({
      REDIS_SENTINELS: 's1:26379',
      REDIS_SENTINEL_MASTER: 'tessera',
      REDIS_SENTINEL_PASSWORD: 'sentinel-secret',
      REDIS_USERNAME: 'tessera',
      REDIS_PASSWORD: 'node-secret',
      REDIS_TLS: 'true',
    });
    expect(c.redis).toMatchObject({ masterName: 'tessera', sentinelPassword: 'sentinel-secret', credentials: { username: 'tessera', password: 'node-secret', tls: true } });
  });

  it('when REDIS_CLUSTER_NODES is set, then Cluster with its seed nodes', () => {
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'n1:7000,n2:7001', REDIS_PASSWORD: 'pw' }).redis).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'n1', port: 7000 },
        { host: 'n2', port: 7001 },
      ],
      credentials: { ...noCredentials, password: 'pw' },
    });
  });

  it.each([
    [{ REDIS_URL: 'redis://a:6379', REDIS_CLUSTER_NODES: 'b:7000' }, 'REDIS_URL, REDIS_CLUSTER_NODES'],
    [{ REDIS_URL: 'redis://a:6379', REDIS_SENTINELS: 'b:26379', REDIS_CLUSTER_NODES: 'c:7000' }, 'REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES'],
    [{ REDIS_SENTINELS: 'b:26379', REDIS_CLUSTER_NODES: 'c:7000' }, 'REDIS_SENTINELS, REDIS_CLUSTER_NODES'],
  ])('when more than one deployment is set (%j), then the start stops with one line naming them', (env, names) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(`invalid configuration: ${names}: set only one of REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES`);
  });

  it.each([
    ['REDIS_SENTINELS', 'localhost'],
    ['REDIS_SENTINELS', 'a:26379,b'],
    ['REDIS_CLUSTER_NODES', 'a:0'],
    ['REDIS_CLUSTER_NODES', 'a:70000'],
    ['REDIS_CLUSTER_NODES', ' , '],
    ['REDIS_URL', 'http://cache:6379'],
    ['REDIS_TLS', 'maybe'],
  ])('when %s=%s, then a ConfigError names the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^invalid configuration: ${name}: `));
  });

  it.each([
    [{ REDIS_SENTINEL_MASTER: 'm', REDIS_CLUSTER_NODES: 'a:7000' }, 'REDIS_SENTINEL_MASTER: applies only with REDIS_SENTINELS'],
    [{ REDIS_SENTINEL_PASSWORD: 'x' }, 'REDIS_SENTINEL_PASSWORD: applies only with REDIS_SENTINELS'],
    [{ REDIS_PASSWORD: 'x', REDIS_URL: 'redis://a:6379' }, 'REDIS_PASSWORD: applies to REDIS_SENTINELS and REDIS_CLUSTER_NODES; with REDIS_URL put the user and password in the URL and use rediss:// for TLS'],
    [{ REDIS_TLS: 'true' }, 'REDIS_TLS: applies only with REDIS_SENTINELS or REDIS_CLUSTER_NODES'],
  ])('when a setting the deployment would ignore is set (%j), then the start stops rather than ignore it', (env, line) => {
    expect(() => loadConfig(env)).toThrow(`invalid configuration: ${line}`);
  });
});
