import type { components } from '../../../generated/openapi.ts';
import { call } from '../api.ts';
import { usage } from '../errors.ts';
import type { CliContext } from '../session.ts';

type AppMode = components['schemas']['AppMode'];
const MODES: readonly AppMode[] = ['chat', 'completion', 'workflow'];

export async function listApps(ctx: CliContext, opts: { workspace?: string; mode?: string; name?: string }): Promise<void> {
  if (opts.mode && !MODES.includes(opts.mode as AppMode)) throw usage(`--mode must be one of ${MODES.join(', ')}.`);
  const { host, api } = await ctx.client();
  const apps = [];
  // Follow the pagination envelope to the end: scripts want the whole list.
  for (let page = 1; ; page++) {
    const query = { workspace_id: opts.workspace, mode: opts.mode as AppMode | undefined, name: opts.name, page, limit: 200 };
    const res = await call(host, api.GET('/apps', { params: { query } }));
    apps.push(...res.data);
    if (!res.has_more) break;
  }
  const width = Math.max(4, ...apps.map((a) => a.name.length));
  const lines = apps.map((a) => `${a.id}  ${a.mode.padEnd(10)}  ${a.name.padEnd(width)}  ${a.tags.join(',')}`);
  const human = apps.length ? [`${'ID'.padEnd(36)}  ${'MODE'.padEnd(10)}  ${'NAME'.padEnd(width)}  TAGS`, ...lines].join('\n') : 'No apps.';
  ctx.print(human, apps);
}

export async function appInfo(ctx: CliContext, appId: string): Promise<void> {
  const { host, api } = await ctx.client();
  const app = await call(host, api.GET('/apps/{app_id}/info', { params: { path: { app_id: appId } } }));
  const inputs = app.input_schema.map(
    (f) =>
      `  --input ${f.variable}=…  ${f.label} (${f.type}${f.required ? ', required' : ''}${f.max_length ? `, max ${f.max_length}` : ''}${f.options ? `: ${f.options.join(' | ')}` : ''})`,
  );
  const human = [
    `${app.name}  (${app.mode} app ${app.id})`,
    app.description ? app.description : '',
    app.tags.length ? `Tags: ${app.tags.join(', ')}` : '',
    inputs.length ? `Inputs:\n${inputs.join('\n')}` : 'Inputs: none',
  ]
    .filter(Boolean)
    .join('\n');
  ctx.print(human, app);
}
