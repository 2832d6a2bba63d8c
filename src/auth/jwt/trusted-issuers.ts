import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import type { JSONWebKeySet } from 'jose';
import YAML from 'yaml';
import { z } from 'zod';
import { SCOPES, type Scope } from '../scopes.ts';
import { ASYMMETRIC_ALGORITHMS, isAsymmetricAlgorithm, type JwtAlgorithm } from './algorithms.ts';

/** One trusted JWT issuer, normalised from a `TRUSTED_JWT_ISSUERS` entry. */
export interface TrustedIssuer {
  readonly issuer: string;
  readonly kind: 'federated' | 'gateway';
  readonly jwksUri: string | null;
  readonly jwks: JSONWebKeySet | null;
  readonly audience: string;
  readonly algorithms: readonly JwtAlgorithm[];
  readonly subjectClaim: string;
  readonly emailClaim: string;
  readonly scopeClaim: string;
  /** Always set for gateway issuers; ignored for federated ones. */
  readonly workspaceClaim: string | null;
  /**
   * Gateway issuers: the workspaces (lower-case ids) their tokens may name; null = any
   * (a start-up warning says so). Always null for federated issuers.
   */
  readonly workspaces: ReadonlySet<string> | null;
  /**
   * Federated issuers: the claim that must be the boolean `true` for the email to be
   * trusted (grants and sessions are keyed by email); null = not checked. Always null for gateways.
   */
  readonly emailVerifiedClaim: string | null;
  readonly allowedScopes: readonly Scope[];
  readonly maxLifetimeSeconds: number;
}

/** A bad setting; the message is one line naming the entry and the field. */
export class TrustedIssuersError extends Error {}

// Which scopes each kind can be given: federated subjects are external subjects (like `tse_`
// tokens), gateway subjects are workspace-confined service accounts. `full` is never stamped on a JWT.
export const SCOPES_BY_KIND: Record<TrustedIssuer['kind'], readonly Scope[]> = {
  federated: ['apps:run', 'apps:read:permitted'],
  gateway: ['apps:read', 'apps:run'],
};

export const LIFETIME_BOUNDS = { min: 60, max: 86_400 } as const;

const required = (what: string) => ({
  error: (issue: { input?: unknown }) => (issue.input === undefined ? 'is required' : `must be ${what}`),
});
const text = (what: string) => z.string(required(what)).min(1, `must be ${what}`).max(2048, 'is too long');
const claimName = z.string(required('a claim name')).trim().min(1, 'must be a non-empty claim name').max(256, 'is too long');

/** A workspace id as claims and `workspaces` carry it (any case; compared lower-case). */
export const WORKSPACE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The default of `email_verified_claim`: the OpenID Connect standard claim. */
export const EMAIL_VERIFIED_CLAIM = 'email_verified';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const PUBLIC_MEMBERS: Record<string, readonly string[]> = { RSA: ['n', 'e'], EC: ['crv', 'x', 'y'], OKP: ['crv', 'x'] };

const jwk = z
  .looseObject({
    kty: z.enum(['RSA', 'EC', 'OKP'], { error: 'must be RSA, EC or OKP (symmetric keys are never accepted)' }),
    kid: z.string().min(1).optional(),
    alg: z.string().optional(),
  })
  .superRefine((key, ctx) => {
    const secret = PRIVATE_MEMBERS.find((m) => m in key);
    if (secret) ctx.addIssue({ code: 'custom', message: `must be a public key (has the private member "${secret}")` });
    const missing = (PUBLIC_MEMBERS[key.kty] ?? []).find((m) => typeof (key as Record<string, unknown>)[m] !== 'string');
    if (missing) ctx.addIssue({ code: 'custom', message: `an ${key.kty} key needs "${missing}"` });
  });

const jwks = z.strictObject({ keys: z.array(jwk, required('an array of keys')).min(1, 'must hold at least one key') }, required('a JSON Web Key Set {"keys": [...]}'));

function entrySchema(allowInsecureHttp: boolean) {
  return z
    .strictObject({
      issuer: text('a non-empty string').refine((v) => v === v.trim(), 'must not start or end with spaces'),
      kind: z.enum(['federated', 'gateway'], { error: 'must be "federated" or "gateway"' }),
      jwks_uri: text('a URL').optional(),
      jwks: jwks.optional(),
      audience: text('a non-empty string'),
      algorithms: z.array(z.string(), required('an array of algorithm names')).min(1, 'must list at least one algorithm').default(['RS256']),
      subject_claim: claimName.default('sub'),
      email_claim: claimName.default('email'),
      scope_claim: claimName.default('scope'),
      workspace_claim: claimName.nullable().default('tessera_workspace'),
      workspaces: z
        .array(z.string().regex(WORKSPACE_ID, 'must be a workspace id (UUID)'), required('an array of workspace ids'))
        .min(1, 'must list at least one workspace id (leave it out to allow any, which is unsafe on a server shared by several customers)')
        .max(10_000, 'is too long')
        .optional(),
      email_verified_claim: claimName.nullable().optional(),
      allowed_scopes: z.array(z.string(), required('an array of scopes')).min(1, 'must list at least one scope'),
      max_lifetime_seconds: z
        .number(required('a whole number of seconds'))
        .int('must be a whole number of seconds')
        .min(LIFETIME_BOUNDS.min, `must be at least ${LIFETIME_BOUNDS.min}`)
        .max(LIFETIME_BOUNDS.max, `must be at most ${LIFETIME_BOUNDS.max} (one day)`)
        .default(3600),
    }, required('an object'))
    .superRefine((e, ctx) => {
      const fail = (field: string, message: string) => ctx.addIssue({ code: 'custom', path: [field], message });
      if ((e.jwks_uri === undefined) === (e.jwks === undefined)) fail('jwks_uri', 'exactly one of jwks_uri and jwks is required');
      if (e.jwks_uri !== undefined) {
        const problem = jwksUriProblem(e.jwks_uri, allowInsecureHttp);
        if (problem) fail('jwks_uri', problem);
      }
      for (const alg of e.algorithms) {
        if (!isAsymmetricAlgorithm(alg)) {
          fail('algorithms', `"${alg}" is never accepted (allowed: ${ASYMMETRIC_ALGORITHMS.join(', ')}; none and HS* are refused)`);
          break;
        }
      }
      for (const [i, key] of (e.jwks?.keys ?? []).entries()) {
        if (key.alg !== undefined && !e.algorithms.includes(key.alg)) fail('jwks', `keys[${i}].alg "${key.alg}" is not in algorithms`);
      }
      const allowed = SCOPES_BY_KIND[e.kind];
      for (const scope of e.allowed_scopes) {
        if (!(SCOPES as readonly string[]).includes(scope)) fail('allowed_scopes', `"${scope}" is not a known scope (${SCOPES.join(', ')})`);
        else if (!allowed.includes(scope as Scope)) fail('allowed_scopes', `"${scope}" cannot be given to ${e.kind} tokens (allowed: ${allowed.join(', ')})`);
      }
      if (e.kind === 'gateway' && e.workspace_claim === null) fail('workspace_claim', 'a gateway issuer needs the claim that names the workspace');
      if (e.kind === 'federated' && e.workspaces !== undefined) {
        fail('workspaces', 'only gateway issuers are confined to workspaces (a federated subject reaches the apps granted to it)');
      }
      if (e.kind === 'gateway' && e.email_verified_claim !== undefined) {
        fail('email_verified_claim', "only federated issuers are checked for a verified email (a gateway's email is not used for grants or sessions)");
      }
    });
}

function jwksUriProblem(value: string, allowInsecureHttp: boolean): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.username || url.password) return 'must not contain credentials';
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:') return allowInsecureHttp ? null : 'must use https (SSO_ALLOW_INSECURE_HTTP=true allows http for local setups)';
  return 'must use https';
}

type Entry = z.output<ReturnType<typeof entrySchema>>;

function normalise(e: Entry): TrustedIssuer {
  return Object.freeze({
    issuer: e.issuer,
    kind: e.kind,
    jwksUri: e.jwks_uri ?? null,
    jwks: (e.jwks as JSONWebKeySet | undefined) ?? null,
    audience: e.audience,
    algorithms: Object.freeze([...new Set(e.algorithms as JwtAlgorithm[])]),
    subjectClaim: e.subject_claim,
    emailClaim: e.email_claim,
    scopeClaim: e.scope_claim,
    workspaceClaim: e.kind === 'gateway' ? e.workspace_claim : null,
    workspaces: e.workspaces ? new Set(e.workspaces.map((w) => w.toLowerCase())) : null,
    emailVerifiedClaim: e.kind === 'federated' ? (e.email_verified_claim === undefined ? EMAIL_VERIFIED_CLAIM : e.email_verified_claim) : null,
    allowedScopes: Object.freeze([...new Set(e.allowed_scopes as Scope[])]),
    maxLifetimeSeconds: e.max_lifetime_seconds,
  });
}

function label(index: number, raw: unknown): string {
  const issuer = raw && typeof raw === 'object' ? (raw as { issuer?: unknown }).issuer : undefined;
  return typeof issuer === 'string' ? `entry ${index} (issuer ${JSON.stringify(issuer)})` : `entry ${index}`;
}

/** Validates parsed entries; throws TrustedIssuersError naming the first bad entry and field. */
export function validateTrustedIssuers(value: unknown, opts: { allowInsecureHttp: boolean }): readonly TrustedIssuer[] {
  if (!Array.isArray(value)) throw new TrustedIssuersError('expected an array of issuer entries');
  const schema = entrySchema(opts.allowInsecureHttp);
  const seen = new Map<string, number>();
  const out = value.map((raw, index) => {
    const result = schema.safeParse(raw);
    if (!result.success) {
      const issue = result.error.issues[0]!;
      const field = issue.code === 'unrecognized_keys' ? issue.keys[0] : issue.path.map(String).join('.');
      const message = issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message;
      throw new TrustedIssuersError(`${label(index, raw)}: ${field ? `${field}: ` : ''}${message}`);
    }
    const first = seen.get(result.data.issuer);
    if (first !== undefined) throw new TrustedIssuersError(`${label(index, raw)}: issuer: duplicate of entry ${first}`);
    seen.set(result.data.issuer, index);
    return normalise(result.data);
  });
  return Object.freeze(out);
}

function oneLine(message: string): string {
  return message.split('\n')[0]!.trim();
}

/**
 * The `TRUSTED_JWT_ISSUERS` value: unset or empty → no issuers; `@path` → a JSON file
 * (`.json`) or a YAML file (anything else); otherwise inline JSON.
 */
export function loadTrustedIssuers(
  value: string | undefined,
  opts: { allowInsecureHttp: boolean; readFile?: (path: string) => string },
): readonly TrustedIssuer[] {
  const source = value?.trim() ?? '';
  if (source === '') return Object.freeze([]);
  let parsed: unknown;
  if (source.startsWith('@')) {
    const path = source.slice(1).trim();
    if (!path) throw new TrustedIssuersError('"@" must be followed by a file path');
    let content: string;
    try {
      content = (opts.readFile ?? ((p) => readFileSync(p, 'utf8')))(path);
    } catch (err) {
      throw new TrustedIssuersError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? oneLine((err as Error).message)}`);
    }
    try {
      // An empty YAML file is an empty list, like an unset variable.
      parsed = extname(path).toLowerCase() === '.json' ? JSON.parse(content) : (YAML.parse(content) ?? []);
    } catch (err) {
      throw new TrustedIssuersError(`${path} is not valid ${extname(path).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${oneLine((err as Error).message)}`);
    }
  } else {
    try {
      parsed = JSON.parse(source);
    } catch (err) {
      throw new TrustedIssuersError(`not valid JSON (or "@path" to a file): ${oneLine((err as Error).message)}`);
    }
  }
  return validateTrustedIssuers(parsed, opts);
}
