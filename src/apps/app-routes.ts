import { READ_APP, accountsOnly } from '../auth/scopes.ts';
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
      scope: accountsOnly('apps:read'),
      async handler({ auth, query }) {
        const p = page(query);
        const { rows, total } = await s.apps.listForAccount({
          accountId: auth.accountId!,
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
    // The apps granted to an external subject, across workspaces; enterprise only (x-tessera-edition in the spec).
    listPermittedApps: {
      guard: 'bearer',
      scope: { external: 'apps:read:permitted' },
      async handler({ auth, query }) {
        const p = page(query);
        const { rows, total } = await s.apps.listPermitted({
          issuer: auth.issuer,
          email: auth.email ?? '',
          mode: query.mode,
          name: query.name,
          page: p.page,
          limit: p.limit,
        });
        return { status: 200, body: p.envelope(rows.map(summary), total) };
      },
    },
    getAppInfo: {
      guard: 'app',
      scope: READ_APP,
      async handler({ app }) {
        return { status: 200, body: { ...summary(app), input_schema: inputSchemaOf(app.config) } };
      },
    },
  };
}
