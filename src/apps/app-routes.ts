import { ApiError, notFound } from '../errors.ts';
import type { Routes } from '../http/operations.ts';
import { page } from '../http/pagination.ts';
import type { AppRecord } from '../storage/repos/apps.ts';
import type { Services } from '../services.ts';
import { inputSchemaOf } from './app-config.ts';

function summary(a: AppRecord) {
  return { id: a.id, workspace_id: a.workspace_id, name: a.name, description: a.description, mode: a.mode, tags: a.tags };
}

export function appReadRoutes(s: Services): Routes<'listApps' | 'listPermittedApps' | 'getAppInfo'> {
  return {
    listApps: {
      guard: 'bearer',
      scope: 'apps:read',
      async handler({ auth, query }) {
        if (!auth.accountId) throw new ApiError(403, 'wrong_subject', 'Listing apps needs an account subject.');
        const p = page(query);
        const { rows, total } = await s.apps.listForAccount({
          accountId: auth.accountId,
          workspaceId: query.workspace_id,
          mode: query.mode,
          name: query.name,
          tag: query.tag,
          page: p.page,
          limit: p.limit,
        });
        return { status: 200, body: p.envelope(rows.map(summary), total) };
      },
    },
    // Enterprise only; the external-SSO branch is not built yet, so every edition answers 404 here.
    listPermittedApps: {
      guard: 'bearer',
      scope: 'apps:read:permitted',
      async handler() {
        throw notFound('Route');
      },
    },
    getAppInfo: {
      guard: 'app',
      scope: 'apps:read',
      async handler({ app }) {
        return { status: 200, body: { ...summary(app), input_schema: inputSchemaOf(app.config) } };
      },
    },
  };
}
