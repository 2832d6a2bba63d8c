import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JSONWebKeySet, type JWK, type JWTPayload } from 'jose';

export interface TestKey {
  alg: 'RS256' | 'ES256' | 'EdDSA';
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

export async function makeKey(alg: TestKey['alg'], kid: string): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicKey, publicJwk };
}

export const jwksOf = (...keys: TestKey[]): JSONWebKeySet => ({ keys: keys.map((k) => k.publicJwk) });

/** Signs `claims` as a compact JWS with the key's alg and kid (both overridable in `header`). */
export function mint(key: TestKey, claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header }).sign(key.privateKey);
}

export const b64json = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

export type JwksMode = 'ok' | 'error' | 'malformed-json' | 'not-a-jwks' | 'hang';

/**
 * A JWKS endpoint served over real HTTP on a free port. `requests` counts every hit, so tests
 * can prove when a fetch did or did not happen; `mode` simulates the ways an endpoint fails.
 */
export interface JwksServer {
  readonly url: string;
  readonly requests: number;
  jwks: JSONWebKeySet;
  mode: JwksMode;
  /** Stops listening: later fetches get ECONNREFUSED. */
  close(): Promise<void>;
}

export async function startJwksServer(jwks: JSONWebKeySet): Promise<JwksServer> {
  let requests = 0;
  const state = { jwks, mode: 'ok' as JwksMode };
  const server: Server = createServer((req, res) => {
    requests++;
    if (state.mode === 'hang') return; // never answers; the client's timeout must end it
    if (state.mode === 'error') {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('down for maintenance');
      return;
    }
    const body = state.mode === 'malformed-json' ? '{"keys": [' : state.mode === 'not-a-jwks' ? '{"keys": "none"}' : JSON.stringify(state.jwks);
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  let closed = false;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get requests() {
      return requests;
    },
    get jwks() {
      return state.jwks;
    },
    set jwks(value) {
      state.jwks = value;
    },
    get mode() {
      return state.mode;
    },
    set mode(value) {
      state.mode = value;
    },
    async close() {
      if (closed) return;
      closed = true;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
