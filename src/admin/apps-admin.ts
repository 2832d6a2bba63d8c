import { parseAppConfig } from '../apps/app-config.ts';
import type { Database } from '../storage/db.ts';
import type { AccessMode, AppMode } from '../storage/repos/apps.ts';

export interface NewApp {
  workspaceId: string;
  name: string;
  mode: AppMode;
  description?: string;
  tags?: string[];
  config: unknown;
  enableApi?: boolean;
  accessMode?: AccessMode;
  memberIds?: string[];
}

/** Creates an app after validating its config for its mode (throws AppConfigError). */
export async function createApp(db: Database, a: NewApp): Promise<{ id: string; name: string; mode: AppMode }> {
  const config = parseAppConfig(a.mode, a.config);
  return db.tx(async (q) => {
    const [row] = await q<{ id: string; name: string; mode: AppMode }>(
      `INSERT INTO apps (workspace_id, name, description, mode, enable_api, access_mode, config, tags)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id, name, mode`,
      [a.workspaceId, a.name, a.description ?? '', a.mode, a.enableApi ?? true, a.accessMode ?? 'workspace', config, a.tags ?? []],
    );
    for (const id of a.memberIds ?? []) await q('INSERT INTO app_members (app_id, account_id) VALUES ($1, $2)', [row!.id, id]);
    return row!;
  });
}
