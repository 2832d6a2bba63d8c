import type { AuthContext } from '../auth/auth-context.ts';
import type { ScopeRule } from '../auth/scopes.ts';
import { ApiError, notFound } from '../errors.ts';
import type { Routes } from '../http/operations.ts';
import { page } from '../http/pagination.ts';
import { SessionRepo, type SessionOwner } from '../storage/repos/sessions.ts';
import { sessionView } from './device-sessions.ts';
import { originOf } from '../observability/audit.ts';
import type { Services } from '../services.ts';

/**
 * Accounts need scope `full`: only device-flow account tokens manage device sessions (an
 * API key is not a session and cannot sign devices out). External subjects (tse_) manage
 * their own device sessions with any of their tokens.
 */
const SESSIONS: ScopeRule = { account: 'full', external: null };

const ownerOf = (auth: AuthContext): SessionOwner =>
  auth.accountId !== null ? { accountId: auth.accountId } : { issuer: auth.issuer, email: auth.email ?? '' };

/** The caller's device sessions (device-flow tokens); another subject's session is not found. */
export function sessionRoutes(s: Services): Routes<'listSessions' | 'deleteCurrentSession' | 'deleteSession'> {
  const sessions = new SessionRepo(s.db);
  return {
    listSessions: {
      guard: 'bearer',
      scope: SESSIONS,
      async handler({ auth, query }) {
        const p = page(query);
        const { rows, total } = await sessions.listLive(ownerOf(auth), p.limit, p.offset);
        const data = rows.map((r) => ({ ...sessionView(r), current: auth.source === 'oauth' && r.id === auth.tokenId }));
        return { status: 200, body: p.envelope(data, total) };
      },
    },
    deleteCurrentSession: {
      guard: 'bearer',
      scope: SESSIONS,
      async handler({ auth, req }) {
        if (auth.source !== 'oauth') throw new ApiError(403, 'wrong_subject', 'Only a device-flow token is a session.');
        await s.tokens.revokeById(ownerOf(auth), auth.tokenId, 'signed_out', originOf(req));
        return { status: 204, body: undefined };
      },
    },
    deleteSession: {
      guard: 'bearer',
      scope: SESSIONS,
      async handler({ auth, params, req }) {
        if (!(await s.tokens.revokeById(ownerOf(auth), params.session_id, 'session_revoked', originOf(req)))) throw notFound('Session');
        return { status: 204, body: undefined };
      },
    },
  };
}
