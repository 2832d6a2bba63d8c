import type { components } from '../../../generated/openapi.ts';
import { call } from '../api.ts';
import { CliError, EXIT, usage } from '../errors.ts';
import type { CliContext } from '../session.ts';
import { table, terminalSafe, terminalText } from '../term.ts';
import { isExternal, tokenKind } from '../token-kind.ts';

type AppMode = components['schemas']['AppMode'];
type AppSummary = components['schemas']['AppSummary'];
type InputField = components['schemas']['InputField'];
const MODES: readonly AppMode[] = ['chat', 'completion', 'workflow'];

/**
 * `GET /apps` for account tokens; `GET /apps/permitted` for a single sign-on login
 * (`tse_`), whose apps are granted to it across workspaces. The route is chosen from
 * the prefix of the token in use, before any request.
 */
export async function listApps(ctx: CliContext, opts: { workspace?: string; mode?: string; name?: string }): Promise<void> {
  if (opts.mode && !MODES.includes(opts.mode as AppMode)) throw usage(`--mode must be one of ${MODES.join(', ')}.`);
  const target = await ctx.client();
  const caller = { ctx, ...target };
  const permitted = isExternal(tokenKind(target.token));
  if (permitted && opts.workspace) {
    throw usage('--workspace does not apply to a single sign-on login: its apps are granted to it across workspaces.', `Run \`${ctx.cmd('apps', 'list')}\`.`);
  }
  const apps: AppSummary[] = [];
  // Follow the pagination envelope to the end: scripts want the whole list.
  for (let page = 1; ; page++) {
    const mode = opts.mode as AppMode | undefined;
    const res = permitted
      ? await call(caller, target.api.GET('/apps/permitted', { params: { query: { mode, name: opts.name, page, limit: 200 } } })).catch(notPermittedHere(target.host))
      : await call(caller, target.api.GET('/apps', { params: { query: { workspace_id: opts.workspace, mode, name: opts.name, page, limit: 200 } } }));
    apps.push(...res.data);
    if (!res.has_more) break;
  }
  const human = apps.length
    ? table(
        [{ header: 'ID' }, { header: 'MODE' }, { header: 'NAME', shrink: true }, { header: 'TAGS', shrink: true }],
        terminalSafe(apps).map((a) => [a.id, a.mode, a.name, a.tags.join(',')]),
      )
    : 'No apps.';
  ctx.print(human, apps);
}

/** A 404 on /apps/permitted means the server has no external-SSO branch (community edition, or an older server). */
const notPermittedHere = (host: string) => (err: unknown) => {
  if (err instanceof CliError && err.exitCode === EXIT.api && err.message.startsWith('Error 404')) {
    throw new CliError(
      EXIT.api,
      `${host} does not list permitted apps (GET /apps/permitted answered 404).`,
      'Your login is a single sign-on login (tse_), which needs a server in the enterprise edition. Ask its operator whether EDITION=enterprise is set.',
    );
  }
  throw err;
};

/** `  --input name=…  Name (text, required, max 48)`: one line per input, as `apps info` and the missing-input hint show them. */
export function describeInputs(fields: InputField[]): string[] {
  return terminalSafe(fields).map(
    (f) =>
      `  --input ${f.variable}=…  ${f.label} (${f.type}${f.required ? ', required' : ''}${f.max_length ? `, max ${f.max_length}` : ''}${f.options ? `: ${f.options.join(' | ')}` : ''})`,
  );
}

export async function appInfo(ctx: CliContext, appId: string): Promise<void> {
  const target = await ctx.client();
  const app = await call({ ctx, ...target }, target.api.GET('/apps/{app_id}/info', { params: { path: { app_id: appId } } }));
  const inputs = describeInputs(app.input_schema);
  const shown = terminalSafe(app);
  const human = [
    `${shown.name}  (${shown.mode} app ${shown.id})`,
    // A description may span lines; it keeps them.
    app.description ? terminalText(app.description) : '',
    shown.tags.length ? `Tags: ${shown.tags.join(', ')}` : '',
    inputs.length ? `Inputs:\n${inputs.join('\n')}` : 'Inputs: none',
  ]
    .filter(Boolean)
    .join('\n');
  ctx.print(human, app);
}
