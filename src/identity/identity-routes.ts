import { accountsOnly } from '../auth/scopes.ts';
import { notFound } from '../errors.ts';
import type { Routes } from '../http/operations.ts';
import { originOf } from '../observability/audit.ts';
import type { Services } from '../services.ts';
import { page } from '../http/pagination.ts';
import { apiKeysFor, apiKeyView } from './api-keys.ts';

export function identityRoutes(s: Services): Routes<'getMe' | 'listWorkspaces' | 'listApiKeys' | 'createApiKey' | 'deleteApiKey'> {
  const apiKeys = apiKeysFor(s);
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
        const { rows, total } = await apiKeys.list(auth.accountId!, p.limit, p.offset);
        return { status: 200, body: p.envelope(rows.map(apiKeyView), total) };
      },
    },
    createApiKey: {
      guard: 'bearer',
      scope: accountsOnly('full'),
      async handler({ auth, body, req }) {
        const created = await apiKeys.create(auth.accountId!, { name: body.name, scopes: body.scopes, expiresInDays: body.expires_in_days ?? null }, originOf(req));
        return { status: 201, body: created };
      },
    },
    deleteApiKey: {
      guard: 'bearer',
      scope: accountsOnly('full'),
      async handler({ auth, params, req }) {
        if (!(await apiKeys.revoke(auth.accountId!, params.key_id, originOf(req)))) throw notFound('API key');
        return { status: 204, body: undefined };
      },
    },
  };
}
