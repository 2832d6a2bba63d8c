import { createHash, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

/** A client's DPoP key pair: the private key signs, the public JWK goes into every proof's header. */
export interface ProofKey {
  alg: string;
  privateKey: CryptoKey;
  jwk: JWK;
  /** RFC 7638 SHA-256 thumbprint: what the server stores with a bound token. */
  jkt: string;
}

export async function proofKey(alg = 'ES256'): Promise<ProofKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { alg, privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
}

/** RFC 9449 §4.2 `ath`: base64url SHA-256 of the access token. */
export const ath = (token: string) => createHash('sha256').update(token).digest('base64url');

export interface ProofOptions {
  htm: string;
  htu: string;
  /** The access token the proof goes with (sets `ath`); none at the token endpoint. */
  token?: string;
  /** Claims to set, replace (or, as undefined, remove). */
  claims?: Record<string, unknown>;
  /** Header parameters to set, replace (or, as undefined, remove). */
  header?: Record<string, unknown>;
}

/** A DPoP proof signed by `key`: by default a valid one for one request; options make it wrong in one way. */
export function proof(key: ProofKey, o: ProofOptions): Promise<string> {
  const payload = withOverrides({ jti: randomUUID(), htm: o.htm, htu: o.htu, iat: Math.floor(Date.now() / 1000), ...(o.token ? { ath: ath(o.token) } : {}) }, o.claims);
  const header = withOverrides({ typ: 'dpop+jwt', alg: key.alg, jwk: key.jwk }, o.header);
  return new SignJWT(payload as JWTPayload).setProtectedHeader(header as { alg: string }).sign(key.privateKey);
}

/** A proof with `alg: none` and no signature, which no verifier may accept. */
export function unsignedProof(key: ProofKey, o: ProofOptions): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const payload = { jti: randomUUID(), htm: o.htm, htu: o.htu, iat: Math.floor(Date.now() / 1000), ...(o.token ? { ath: ath(o.token) } : {}) };
  return `${b64({ typ: 'dpop+jwt', alg: 'none', jwk: key.jwk })}.${b64(payload)}.`;
}

function withOverrides(base: Record<string, unknown>, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const out = { ...base, ...overrides };
  for (const [k, v] of Object.entries(overrides)) if (v === undefined) delete out[k];
  return out;
}

/** The headers of a DPoP request: the token in the DPoP scheme and the proof. */
export const dpopHeaders = (token: string, dpop: string) => ({ Authorization: `DPoP ${token}`, DPoP: dpop });
