// RFC 9449 §4.2–4.3: a DPoP proof JWT, checked. The JWS work (parsing, the signature) is jose's.
import { calculateJwkThumbprint, compactVerify, decodeProtectedHeader, errors, importJWK, type CryptoKey, type JWK } from 'jose';
import { checkCompactShape } from '../jwt/compact-shape.ts';
import { DPOP_ALGORITHMS, isDpopAlgorithm, PROOF_WINDOW_SECONDS, type DpopAlgorithm } from './policy.ts';
import { sameHtu } from './htu.ts';
import { DpopRefused } from './refusals.ts';

const MAX_JTI = 256;
const MAX_HTU = 2048;

/** What a proof must have been made for: the request's method and URL as seen from PUBLIC_URL, and (with an access token) `ath`. */
export interface ProofTarget {
  method: string;
  htu: string;
  /** base64url SHA-256 of the access token presented with it; null at the token endpoint. */
  ath: string | null;
}

export interface VerifiedProof {
  /** The JWK SHA-256 thumbprint (RFC 7638) of the proof's key. */
  jkt: string;
  jti: string;
}

/** A proof header's key, as imported once: the header segment of one client's proofs is the same every time. */
interface HeaderKey {
  alg: DpopAlgorithm;
  key: CryptoKey;
  jkt: string;
}

/** Members of a private JWK (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
/** The public members that make each key, and nothing else: what is imported and hashed (RFC 7638 §3.2). */
const PUBLIC_MEMBERS = { EC: ['kty', 'crv', 'x', 'y'], OKP: ['kty', 'crv', 'x'], RSA: ['kty', 'n', 'e'] } as const;
const RSA_BITS = { min: 2048, max: 4096 };

/** `ath` for an access token whose hex SHA-256 is known (every bearer request has hashed its token already). */
export const athOf = (tokenHashHex: string): string => Buffer.from(tokenHashHex, 'hex').toString('base64url');

/**
 * Checks DPoP proofs: one signature verification per proof. A client sends the same
 * protected header (typ, alg, its public key) with every proof, so the header's checks, the
 * key's import and its thumbprint are done once per distinct header and remembered (a
 * bounded map; an attacker's many headers only cost what no memo would).
 */
export class DpopVerifier {
  private readonly headers = new Map<string, Promise<HeaderKey>>();

  constructor(
    private readonly maxHeaders = 1_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The request's DPoP header (RFC 9449 §4.3 steps 1–12 but the `jti` replay check, which the caller makes in the store). */
  async verify(header: string | string[] | undefined, target: ProofTarget): Promise<VerifiedProof> {
    if (header === undefined) throw new DpopRefused('missing');
    // A repeated header arrives as an array, or joined with ", " (which no compact JWS contains).
    if (typeof header !== 'string' || checkCompactShape(header) !== null) throw new DpopRefused('malformed');
    const { alg, key, jkt } = await this.headerKey(header.slice(0, header.indexOf('.')), header);
    let verified;
    try {
      verified = await compactVerify(header, key, { algorithms: [alg] });
    } catch (err) {
      if (err instanceof errors.JWSSignatureVerificationFailed) throw new DpopRefused('signature');
      if (err instanceof errors.JOSEError) throw new DpopRefused('malformed');
      throw err;
    }
    const { jti, htm, htu, iat, ath } = claimsOf(verified.payload);
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI) throw new DpopRefused('claims');
    if (htm !== target.method) throw new DpopRefused('htm');
    if (typeof htu !== 'string' || htu.length > MAX_HTU || !sameHtu(htu, target.htu)) throw new DpopRefused('htu', target.htu);
    const nowSeconds = this.now() / 1000;
    if (typeof iat !== 'number' || Math.abs(nowSeconds - iat) > PROOF_WINDOW_SECONDS) throw new DpopRefused('iat');
    if (target.ath !== null && ath !== target.ath) throw new DpopRefused('ath');
    return { jkt, jti };
  }

  private headerKey(segment: string, proof: string): Promise<HeaderKey> {
    const known = this.headers.get(segment);
    if (known) return known;
    const loading = readHeader(proof);
    if (this.headers.size >= this.maxHeaders) this.headers.delete(this.headers.keys().next().value!);
    this.headers.set(segment, loading);
    // A header that fails is not remembered: refusing it again costs no more than the first time.
    loading.catch(() => this.headers.delete(segment));
    return loading;
  }
}

/** The JWT claims set of a verified proof (RFC 7519 §7.2 step 10: a JSON object), else a refusal. */
function claimsOf(payload: Uint8Array): Record<string, unknown> {
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'));
  } catch {
    throw new DpopRefused('claims');
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw new DpopRefused('claims');
  return claims as Record<string, unknown>;
}

/** Steps 4, 5 and 7 of RFC 9449 §4.3 (typ, an asymmetric alg we support, a public key that fits it), then the key's import and thumbprint. */
async function readHeader(proof: string): Promise<HeaderKey> {
  let header;
  try {
    header = decodeProtectedHeader(proof);
  } catch {
    throw new DpopRefused('malformed');
  }
  // A media type, compared as one: in any case, `application/` optional (RFC 7515 §4.1.9).
  if (typeof header.typ !== 'string' || header.typ.toLowerCase().replace(/^application\//, '') !== 'dpop+jwt') throw new DpopRefused('typ');
  if (!isDpopAlgorithm(header.alg)) throw new DpopRefused('alg');
  const jwk = publicKeyOf(header.jwk, header.alg);
  let key;
  try {
    key = (await importJWK(jwk, header.alg)) as CryptoKey;
  } catch {
    throw new DpopRefused('jwk');
  }
  return { alg: header.alg, key, jkt: await calculateJwkThumbprint(jwk, 'sha256') };
}

/** The proof's `jwk`: an object with no private member, of the key type its `alg` needs; only its public members are kept. */
function publicKeyOf(jwk: unknown, alg: DpopAlgorithm): JWK {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw new DpopRefused('jwk');
  const given = jwk as Record<string, unknown>;
  if (PRIVATE_MEMBERS.some((m) => m in given)) throw new DpopRefused('private_key');
  const kty = DPOP_ALGORITHMS[alg];
  if (given.kty !== kty.kty || ('crv' in kty && given.crv !== kty.crv)) throw new DpopRefused('jwk');
  const members = PUBLIC_MEMBERS[kty.kty];
  if (members.some((m) => typeof given[m] !== 'string')) throw new DpopRefused('jwk');
  if (kty.kty === 'RSA') {
    const bits = Buffer.from(given.n as string, 'base64url').length * 8;
    if (bits < RSA_BITS.min || bits > RSA_BITS.max) throw new DpopRefused('jwk');
  }
  return Object.fromEntries(members.map((m) => [m, given[m]])) as JWK;
}
