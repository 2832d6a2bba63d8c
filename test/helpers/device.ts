import { randomBytes } from 'node:crypto';
import { hashToken } from '../../src/auth/token-kinds.ts';
import { usedKey } from '../../src/device-flow/device-scripts.ts';
import type { TestServer } from './server.ts';

export const GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export function form(url: string, params: Record<string, string>, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params).toString(),
  });
}

export interface DeviceStart {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

/**
 * A fresh documentation-range client address (loopback proxies are trusted), so tests do not
 * share one per-client window. Per-IP limits count an IPv6 client as its /64, so the random
 * bits are in the prefix: groups 3 and 4, the 32 bits that 2001:db8::/32 leaves free (a pool
 * of 254 IPv4 addresses used to let test files running at the same time collide on a limit).
 */
export const clientIp = () => ({ 'x-forwarded-for': `${randomPrefix()}::1` });

/** Addresses in one fresh /64: each call of the returned function gives another host of it. */
export function clientNetwork(): () => Record<'x-forwarded-for', string> {
  const prefix = randomPrefix();
  return () => ({ 'x-forwarded-for': `${prefix}:${randomBytes(8).toString('hex').match(/.{4}/g)!.join(':')}` });
}

const randomPrefix = () => `2001:db8:${randomBytes(4).toString('hex').match(/.{4}/g)!.join(':')}`;

export async function startFlow(server: Pick<TestServer, 'url'>, params: Record<string, string> = {}, headers: Record<string, string> = clientIp()): Promise<DeviceStart> {
  const res = await form(`${server.url}/openapi/v1/oauth/device/code`, { client_id: 'tessera-cli', device_label: 'laptop', ...params }, headers);
  if (res.status !== 200) throw new Error(`device/code: ${res.status} ${await res.text()}`);
  return res.json() as Promise<DeviceStart>;
}

export function poll(server: Pick<TestServer, 'url'>, deviceCode: string, clientId = 'tessera-cli') {
  return form(`${server.url}/openapi/v1/oauth/token`, { grant_type: GRANT, device_code: deviceCode, client_id: clientId });
}

/** RFC 6749 §6: grant_type=refresh_token at the token endpoint. */
export function refreshGrant(server: TestServer, refreshToken: string, params: Record<string, string> = {}) {
  return form(`${server.url}/openapi/v1/oauth/token`, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'tessera-cli', ...params });
}

/** Moves a collected code's collection time back by `ms` (store marker and Postgres grant), to step past the replay grace window. */
export async function backdateCollection(server: TestServer, deviceCode: string, ms = 6_000): Promise<void> {
  const hash = hashToken(deviceCode);
  const raw = await server.store.get(usedKey(hash));
  if (raw) {
    const marker = JSON.parse(raw) as { token_id: string; at: number };
    await server.store.set(usedKey(hash), JSON.stringify({ ...marker, at: marker.at - ms }), Math.max(1_000, await server.store.pttl(usedKey(hash))));
  }
  await server.db.query('UPDATE device_grants SET collected_at = collected_at - make_interval(secs => $2::float8 / 1000) WHERE code_hash = $1', [hash, ms]);
}
