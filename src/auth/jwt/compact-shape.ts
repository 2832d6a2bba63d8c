/**
 * Size caps, checked on the raw string before anything is decoded, so an oversized
 * bearer costs a length comparison. They leave room for real IdP tokens (a header
 * with an `x5c` chain, a payload with group claims) inside Node's 16 KiB header limit.
 */
export const JWT_LIMITS = {
  token: 12_288,
  header: 4_096,
  payload: 8_192,
  signature: 2_048,
} as const;

const SEGMENT = /^[A-Za-z0-9_-]*$/;

export type ShapeProblem = { reason: 'too_large' | 'malformed'; detail: string };

/**
 * Whether a bearer takes the JWT path. Opaque tokens (`tsa_`, `tse_`, `tsk_`) are
 * base64url and never contain a dot, so any dotted bearer is a JWT candidate; the
 * full shape check then says precisely what is wrong with a near miss.
 */
export function looksLikeJwt(token: string): boolean {
  return token.includes('.');
}

/**
 * A compact JWS (RFC 7515 §7.1): exactly three base64url segments, header and
 * payload non-empty. The signature may be empty here so that `alg: none` is refused
 * by the algorithm check with its own reason. No decoding happens in this function.
 */
export function checkCompactShape(token: string): ShapeProblem | null {
  if (token.length > JWT_LIMITS.token) return { reason: 'too_large', detail: `token longer than ${JWT_LIMITS.token} characters` };
  const parts = token.split('.');
  if (parts.length !== 3) return { reason: 'malformed', detail: `expected 3 segments, got ${parts.length}` };
  const [header, payload, signature] = parts as [string, string, string];
  if (header.length > JWT_LIMITS.header) return { reason: 'too_large', detail: `header longer than ${JWT_LIMITS.header} characters` };
  if (payload.length > JWT_LIMITS.payload) return { reason: 'too_large', detail: `payload longer than ${JWT_LIMITS.payload} characters` };
  if (signature.length > JWT_LIMITS.signature) return { reason: 'too_large', detail: `signature longer than ${JWT_LIMITS.signature} characters` };
  if (!header || !payload) return { reason: 'malformed', detail: 'empty header or payload segment' };
  if (!SEGMENT.test(header) || !SEGMENT.test(payload) || !SEGMENT.test(signature)) {
    return { reason: 'malformed', detail: 'a segment is not base64url' };
  }
  return null;
}
