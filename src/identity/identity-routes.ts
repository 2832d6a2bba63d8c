import { accountsOnly } from '../auth/scopes.ts';
import { generateToken, hashToken } from '../auth/token-kinds.ts';
import { notFound } from '../errors.ts';
import type { Routes } from '../http/operations.ts';
import type { ApiKeyRow } from '../storage/repos/api-keys.ts';
import type { Services } from '../services.ts';
import { page } from '../http/pagination.ts';

function apiKeyView(k: ApiKeyRow) {
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    scopes: k.scopes as ('apps:read' | 'apps:run')[],
    created_at: k.created_at.toISOString(),
    last_used_at: k.last_used_at?.toISOString() ?? null,
    expires_at: k.expires_at?.toISOString() ?? null,
  };
}

export function identityRoutes(s: Services): Routes<'getMe' | 'listWorkspaces' | 'listApiKeys' | 'createApiKey' | 'deleteApiKey'> {
  return {
    getMe: {
      guard: 'bearer',
      scope: null,
      async handler({ auth }) {
        return { status: 200, body: auth.principal };
      },
    },
    listWorkspaces: {
      guard: 'bearer',
      scope: accountsOnly('apps:read'),
      async handler({ auth }) {
        return { status: 200, body: { data: await s.accounts.workspaces(auth.accountId!) } };
      },
    },
    listApiKeys: {
      guard: 'bearer',
      scope: accountsOnly('full'),
      async handler({ auth, query }) {
        const p = page(query);
        const { rows, total } = await s.apiKeys.listLive(auth.accountId!, p.limit, p.offset);
        return { status: 200, body: p.envelope(rows.map(apiKeyView), total) };
      },
    },
    createApiKey: {
      guard: 'bearer',
      scope: accountsOnly('full'),
      async handler({ auth, body }) {
        const key = generateToken('tsk_');
        const row = await s.apiKeys.create(auth.accountId!, body.name, hashToken(key), body.scopes, body.expires_in_days ?? null);
        s.audit('api_key.created', { key_id: row.id, subject: auth.accountId, scopes: body.scopes });
        return { status: 201, body: { ...apiKeyView(row), key } };
      },
    },
    deleteApiKey: {
      guard: 'bearer',
      scope: accountsOnly('full'),
      async handler({ auth, params }) {
        const revoked = await s.apiKeys.revoke(auth.accountId!, params.key_id);
        if (!revoked) throw notFound('API key');
        await s.authenticator.cache.invalidate([revoked.token_hash]);
        s.audit('oauth.token_revoked', { token_id: params.key_id, subject: auth.accountId, reason: 'api_key_deleted' });
        return { status: 204, body: undefined };
      },
    },
  };
}
