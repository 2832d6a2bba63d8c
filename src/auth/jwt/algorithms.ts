/**
 * The only signature algorithms a trusted issuer may use: asymmetric ones, so that
 * the key Tessera holds can verify but never sign. `none` and every HS* are refused
 * when the configuration is read and again on every token (RFC 8725 §3.1–3.2).
 */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
export type JwtAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

export function isAsymmetricAlgorithm(alg: unknown): alg is JwtAlgorithm {
  return typeof alg === 'string' && (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg);
}
