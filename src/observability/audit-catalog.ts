import type { TokenSource } from '../auth/auth-context.ts';
import type { AppMode } from '../storage/repos/apps.ts';
import type { DeviceFlowBranch, EndedRun } from './metric-catalog.ts';

/**
 * Every audit event Tessera emits, with its attributes (docs/observability.md, "Audit
 * events"). Each goes to the log as a line with `audit: true` and, with OTLP on, to an
 * OpenTelemetry log record whose event name is the catalog name. Attributes name who and
 * what (subject, token id, client, device label, request id, client address); never a
 * token, a password, a query or an answer.
 */

/** The request an event happened in, when it happened in one (an admin command has none). */
export interface AuditOrigin {
  request_id?: string;
  client_address?: string;
}

/** Who a device-flow token or decision belongs to: an account id, or an IdP's subject with its issuer. */
interface Subject {
  subject: string | null;
  subject_issuer?: string;
}

type DeviceDecision = Subject & { branch: DeviceFlowBranch; client_id: string; device_label: string; subject_email?: string };

/** Why a token stopped working (docs/tokens.md). */
export type RevocationReason =
  | 'revoked'
  | 'rfc7009'
  | 'expired'
  | 'device_code_replayed'
  | 'session_revoked'
  | 'signed_out'
  | 'signed_out_everywhere'
  | 'api_key_deleted'
  | 'account_disabled'
  | 'subject_revoked'
  | 'backchannel_logout'
  /** A refresh that ends the session: the account disabled, the session past its end, a spent refresh token presented again. */
  | 'refresh_token_disabled'
  | 'refresh_token_expired'
  | 'refresh_token_reused';

export interface AuditEvents {
  'oauth.device_flow_approved': DeviceDecision;
  'oauth.device_flow_denied': DeviceDecision;
  /** A device code polled again after its grace window: the token it produced is revoked (its `oauth.token_revoked` names the subject). */
  'oauth.device_code_replayed': { token_id: string; client_id: string; branch: DeviceFlowBranch };
  /** A device-flow login (`account_device`, `external_device`) or an API key (`api_key`) got its token. */
  'oauth.token_issued': Subject & {
    token_id: string;
    token_kind: Exclude<TokenSource, 'jwt_federated' | 'jwt_gateway'>;
    client_id?: string;
    device_label?: string;
    rotated?: boolean;
    /** A refresh token was issued with it (OAUTH_REFRESH_TOKENS). */
    with_refresh_token?: boolean;
    /** Its tokens are bound to the key of the token request's DPoP proof (RFC 9449). */
    dpop_bound?: boolean;
    scopes?: string[];
  };
  /** A refresh token was exchanged for new tokens (RFC 6749 §6); `token_id` is the session's. */
  'oauth.token_refreshed': Subject & { token_id: string; client_id: string; device_label: string; dpop_bound: boolean };
  /** A spent refresh token presented again after its grace window: its whole session is revoked. */
  'oauth.refresh_token_reused': { token_id: string | undefined; client_id: string; session_revoked: boolean };
  'oauth.token_revoked': Subject & { token_id: string; reason: RevocationReason };
  /** An IdP's back-channel logout (OpenID Connect Back-Channel Logout 1.0) ended the sessions it names. */
  'sso.backchannel_logout': { subject_issuer: string; subject: string | null; sid: string | null; jti: string; sessions_ended: number };
  'app.run.openapi': { app_id: string; subject: string; token_id: string; mode: AppMode; status: EndedRun; elapsed_ms: number };
  /** Browser sessions of the console ended by "sign out everywhere" (no OAuth token: the one name of ours beyond the OAuth and SSO ones). */
  'console.sessions_revoked': { subject: string; count: number; reason: 'signed_out_everywhere' };
}

/** Every admin command that changes something is audited as `admin.<command>` (reading ones are not). */
export const ADMIN_COMMANDS = [
  'create-account',
  'reset-password',
  'create-workspace',
  'add-member',
  'create-app',
  'mint-token',
  'create-api-key',
  'grant-app',
  'revoke-app-grant',
  'set-access-mode',
  'disable-account',
  'enable-account',
  'revoke-subject',
] as const;
export type AdminCommand = (typeof ADMIN_COMMANDS)[number];
export type AdminEvent = `admin.${AdminCommand}`;
/** What an admin command did, by id; a command's secret output (a password, a token) is never among them. */
export type AdminAttributes = Record<string, string | number | boolean | null | string[]>;

export type AuditEvent = keyof AuditEvents | AdminEvent;
export type AuditAttributes<E extends AuditEvent> = (E extends keyof AuditEvents ? AuditEvents[E] : AdminAttributes) & AuditOrigin;

/** Attribute names an event may never carry, whatever its type says: checked again when emitted. */
export const NEVER_AUDITED: ReadonlySet<string> = new Set(['token', 'access_token', 'refresh_token', 'device_code', 'password', 'query', 'answer', 'inputs', 'secret']);
