import { createHash } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { emailFromClaim } from '../email.ts';
import type { Scope } from '../scopes.ts';
import { WORKSPACE_ID, type TrustedIssuer } from './trusted-issuers.ts';

/**
 * Who a verified JWT speaks for: a plain descriptor the bearer pipeline turns into its
 * auth context. Federated tokens are external subjects (like `tse_`); gateway tokens
 * are service accounts confined to `workspaceId`.
 */
export interface JwtIdentity {
  readonly issuer: string;
  readonly kind: TrustedIssuer['kind'];
  readonly principalType: 'user' | 'service_account';
  /** From the issuer's `subject_claim`. */
  readonly subject: string;
  /** From `email_claim`, lower-cased; required for federated tokens (grants name emails). */
  readonly email: string | null;
  /** The standard `name` claim, else the email, else the subject. */
  readonly displayName: string;
  /** Token scopes ∩ the issuer's `allowed_scopes`, in the issuer's order; may be empty. */
  readonly scopes: readonly Scope[];
  /** From `workspace_claim`; set for gateway tokens, null for federated ones. */
  readonly workspaceId: string | null;
  readonly issuedAtMs: number;
  readonly expiresAtMs: number;
  /** The issuer's id for this token (`jti`, 1–255 characters), when it sends one: audit lines carry it. */
  readonly jti: string | null;
  /** sha256 hex of `(iss, sub)`: every token of one subject shares one rate-limit window. */
  readonly rateLimitKey: string;
}

export type IdentityProblem = { reason: 'bad_subject' | 'bad_email' | 'email_not_verified' | 'bad_scope' | 'bad_workspace'; detail: string };

export function rateLimitKey(issuer: string, subject: string): string {
  return createHash('sha256').update(JSON.stringify([issuer, subject])).digest('hex');
}

function tokenScopes(value: unknown): string[] | null {
  if (value === undefined) return [];
  if (typeof value === 'string') return value.split(/\s+/).filter(Boolean);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  return null;
}

/** Reads the configured claims of an already verified payload (exp and iat are numbers by then). */
export function identityFromClaims(entry: TrustedIssuer, payload: JWTPayload): JwtIdentity | IdentityProblem {
  const subject = payload[entry.subjectClaim];
  if (typeof subject !== 'string' || subject.length === 0 || subject.length > 255) {
    return { reason: 'bad_subject', detail: `claim "${entry.subjectClaim}" must be a string of 1–255 characters` };
  }
  const rawEmail = payload[entry.emailClaim];
  let email: string | null = null;
  if (rawEmail !== undefined) {
    email = emailFromClaim(rawEmail);
    if (email === null) return { reason: 'bad_email', detail: `claim "${entry.emailClaim}" is not an email address` };
  } else if (entry.kind === 'federated') {
    return { reason: 'bad_email', detail: `claim "${entry.emailClaim}" is required for federated tokens` };
  }
  // Grants and device sessions are keyed by email: an address the IdP has not verified could
  // be anyone's. Only the JSON boolean true counts, as in the SSO branch of the device flow.
  if (entry.emailVerifiedClaim !== null && payload[entry.emailVerifiedClaim] !== true) {
    return { reason: 'email_not_verified', detail: `claim "${entry.emailVerifiedClaim}" must be true` };
  }
  const requested = tokenScopes(payload[entry.scopeClaim]);
  if (requested === null) return { reason: 'bad_scope', detail: `claim "${entry.scopeClaim}" must be a space-separated string or an array of strings` };
  const scopes = entry.allowedScopes.filter((s) => requested.includes(s));
  let workspaceId: string | null = null;
  if (entry.kind === 'gateway') {
    const ws = payload[entry.workspaceClaim!];
    if (typeof ws !== 'string' || !WORKSPACE_ID.test(ws)) {
      return { reason: 'bad_workspace', detail: `claim "${entry.workspaceClaim}" must be a workspace id (UUID)` };
    }
    workspaceId = ws.toLowerCase();
    // The entry's own list confines what its tokens may name; without one, any workspace (legacy).
    if (entry.workspaces !== null && !entry.workspaces.has(workspaceId)) {
      return { reason: 'bad_workspace', detail: `workspace ${workspaceId} is not in this issuer's workspaces` };
    }
  }
  const jti = typeof payload.jti === 'string' && payload.jti.length > 0 && payload.jti.length <= 255 ? payload.jti : null;
  const name = typeof payload.name === 'string' && payload.name.trim() ? payload.name.trim().slice(0, 200) : null;
  return {
    issuer: entry.issuer,
    kind: entry.kind,
    principalType: entry.kind === 'gateway' ? 'service_account' : 'user',
    subject,
    email,
    displayName: name ?? email ?? subject,
    scopes,
    workspaceId,
    issuedAtMs: payload.iat! * 1000,
    expiresAtMs: payload.exp! * 1000,
    jti,
    rateLimitKey: rateLimitKey(entry.issuer, subject),
  };
}
