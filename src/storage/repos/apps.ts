import type { Database } from '../db.ts';
import { emailDomain } from './grants.ts';

export type AppMode = 'chat' | 'completion' | 'workflow';
export type AccessMode = 'workspace' | 'members' | 'external';

export interface AppRecord {
  id: string;
  workspace_id: string;
  name: string;
  description: string;
  mode: AppMode;
  enable_api: boolean;
  access_mode: AccessMode;
  config: Record<string, unknown>;
  tags: string[];
  member_ids: string[];
}

export interface AppListFilter {
  accountId: string;
  workspaceId?: string;
  mode?: AppMode;
  name?: string;
  tag?: string;
  page: number;
  limit: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class AppRepo {
  constructor(private readonly db: Database) {}

  async findById(id: string): Promise<AppRecord | undefined> {
    if (!UUID.test(id)) return undefined;
    return this.db.one<AppRecord>(
      `SELECT a.id, a.workspace_id, a.name, a.description, a.mode, a.enable_api, a.access_mode, a.config, a.tags,
              coalesce((SELECT array_agg(m.account_id::text) FROM app_members m WHERE m.app_id = a.id), '{}') AS member_ids
         FROM apps a WHERE a.id = $1`,
      [id],
    );
  }

  /** Apps the account may see: its workspaces, API enabled, allowed by access mode. */
  async listForAccount(f: AppListFilter): Promise<{ rows: AppRecord[]; total: number }> {
    const where = [
      'a.workspace_id IN (SELECT workspace_id FROM memberships WHERE account_id = $1)',
      'a.enable_api',
      "(a.access_mode <> 'members' OR EXISTS (SELECT 1 FROM app_members am WHERE am.app_id = a.id AND am.account_id = $1))",
    ];
    const values: unknown[] = [f.accountId];
    const add = (clause: string, value: unknown) => {
      values.push(value);
      where.push(clause.replace('?', `$${values.length}`));
    };
    if (f.workspaceId) add('a.workspace_id = ?', f.workspaceId);
    if (f.mode) add('a.mode = ?', f.mode);
    if (f.name) add("a.name ILIKE '%' || ? || '%'", f.name.replace(/[\\%_]/g, (c) => `\\${c}`));
    if (f.tag) add('? = ANY(a.tags)', f.tag);
    return this.pageWhere(where, values, f);
  }

  /** Apps granted to an external subject, across workspaces: access mode external, API enabled. */
  async listPermitted(f: { issuer: string; email: string; mode?: AppMode; name?: string; page: number; limit: number }): Promise<{ rows: AppRecord[]; total: number }> {
    const where = [
      "a.access_mode = 'external'",
      'a.enable_api',
      `EXISTS (SELECT 1 FROM app_grants g WHERE g.app_id = a.id AND g.subject_issuer = $1 AND (g.email = lower($2) OR g.email_domain = $3))`,
    ];
    const values: unknown[] = [f.issuer, f.email, emailDomain(f.email)];
    if (f.mode) where.push(`a.mode = $${values.push(f.mode)}`);
    if (f.name) where.push(`a.name ILIKE '%' || $${values.push(f.name.replace(/[\\%_]/g, (c) => `\\${c}`))} || '%'`);
    return this.pageWhere(where, values, f);
  }

  /** One page of apps matching every condition, oldest first (list rows carry no member ids). */
  private pageWhere(where: string[], values: unknown[], f: { page: number; limit: number }): Promise<{ rows: AppRecord[]; total: number }> {
    return this.db.page<AppRecord>({
      columns: "a.id, a.workspace_id, a.name, a.description, a.mode, a.enable_api, a.access_mode, a.config, a.tags, '{}'::text[] AS member_ids",
      from: `apps a WHERE ${where.join(' AND ')}`,
      orderBy: 'a.created_at, a.id',
      values,
      limit: f.limit,
      offset: (f.page - 1) * f.limit,
    });
  }

  async isMember(accountId: string, workspaceId: string): Promise<boolean> {
    const row = await this.db.one('SELECT 1 FROM memberships WHERE account_id = $1 AND workspace_id = $2', [accountId, workspaceId]);
    return row !== undefined;
  }
}
