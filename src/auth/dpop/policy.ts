import { hash } from 'node:crypto';

/**
 * What a DPoP proof may be (docs/tokens.md, "DPoP"): the JWS algorithms it may use (RFC 9449
 * §4.2: asymmetric only, never `none` or a MAC), each with the key type it needs, and how
 * far its `iat` may be from the server's clock. Metadata's `dpop_signing_alg_values_supported`
 * and every DPoP challenge's `algs` list the algorithms. `Ed25519` is the fully specified name
 * of `EdDSA` over Ed25519 (RFC 9864), which current clients (oauth4webapi) send.
 */
export const DPOP_ALGORITHMS = {
  ES256: { kty: 'EC', crv: 'P-256' },
  EdDSA: { kty: 'OKP', crv: 'Ed25519' },
  Ed25519: { kty: 'OKP', crv: 'Ed25519' },
  RS256: { kty: 'RSA' },
  PS256: { kty: 'RSA' },
} as const;

export type DpopAlgorithm = keyof typeof DPOP_ALGORITHMS;

export const DPOP_ALGORITHM_NAMES = Object.keys(DPOP_ALGORITHMS) as DpopAlgorithm[];

export const isDpopAlgorithm = (alg: unknown): alg is DpopAlgorithm => typeof alg === 'string' && Object.hasOwn(DPOP_ALGORITHMS, alg);

/**
 * How far a proof's `iat` may be from the server's clock, either way: a proof is made for one
 * request (the past side), and a client's clock may run ahead (the future side). Tessera
 * sends no nonces (RFC 9449 §8–9), so this window, `ath` and the `jti` check are what limit a
 * proof's use.
 */
export const PROOF_WINDOW_SECONDS = 60;

/** How long a `jti` is remembered: as long as a proof carrying it could still be accepted. */
export const JTI_MEMORY_MS = 2 * PROOF_WINDOW_SECONDS * 1000;

/** The store key under which a proof's `jti` is remembered (only its hash), in the slot of `tag` (the token's rate-limit key, or the key's thumbprint). */
export const jtiKey = (tag: string, jti: string): string => `dpop:jti:{${tag}}:${hash('sha256', jti, 'base64url')}`;
