import type { components } from '../../../generated/openapi.ts';
import { call, type ApiClient } from '../api.ts';
import type { CliContext } from '../session.ts';
import { out, table, terminalSafe } from '../term.ts';
import { isExternal, tokenKind } from '../token-kind.ts';

type Principal = components['schemas']['Principal'];
export type WorkspaceRef = { id: string; name: string | null };

/**
 * The caller's default workspace with its name, for `login` and `whoami`, through the client
 * that read `/me` (same token, same key). The name needs `GET /workspaces` (scope apps:read);
 * a key without it still shows the id.
 */
export async function defaultWorkspace(ctx: CliContext, host: string, api: ApiClient, me: Principal): Promise<WorkspaceRef | null> {
  const id = me.default_workspace_id;
  if (!id) return null;
  try {
    const list = await call({ ctx, host }, api.GET('/workspaces'));
    return { id, name: list.data.find((w) => w.id === id)?.name ?? null };
  } catch {
    return { id, name: null };
  }
}

export async function listWorkspaces(ctx: CliContext): Promise<void> {
  const target = await ctx.client();
  if (isExternal(tokenKind(target.token))) {
    process.stderr.write(`A single sign-on login has no workspaces: it sees the apps granted to it. Run \`${ctx.cmd('apps', 'list')}\`.\n`);
    ctx.print('No workspaces.', []);
    return;
  }
  const { data } = await call({ ctx, ...target }, target.api.GET('/workspaces'));
  const human = data.length
    ? table(
        [{ header: 'ID' }, { header: 'NAME', shrink: true }, { header: 'ROLE' }, { header: 'DEFAULT' }],
        terminalSafe(data).map((w) => [w.id, w.name, w.role, w.current ? out.green('yes') : '']),
      )
    : 'No workspaces.';
  ctx.print(human, data);
  if (!ctx.json && data.length) process.stderr.write(`List a workspace's apps with \`${ctx.cmd('apps', 'list', '--workspace', terminalSafe(data[0]!.id))}\`.\n`);
}
