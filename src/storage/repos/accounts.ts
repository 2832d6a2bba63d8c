import type { Database } from '../db.ts';

export interface Account {
  id: string;
  email: string;
  name: string;
}

export type Role = 'owner' | 'admin' | 'editor' | 'normal';

export interface WorkspaceMembership {
  id: string;
  name: string;
  role: Role;
  current: boolean;
}

export class AccountRepo {
  constructor(private readonly db: Database) {}

  async create(email: string, name: string, passwordHash: string | null): Promise<Account> {
    const row = await this.db.one<Account>(
      'INSERT INTO accounts (email, name, password_hash) VALUES ($1, $2, $3) RETURNING id, email, name',
      [email, name, passwordHash],
    );
    return row!;
  }

  async findByEmail(email: string): Promise<(Account & { password_hash: string | null; disabled_at: Date | null }) | undefined> {
    return this.db.one('SELECT id, email, name, password_hash, disabled_at FROM accounts WHERE lower(email) = lower($1)', [email]);
  }

  async findById(id: string): Promise<Account | undefined> {
    return this.db.one('SELECT id, email, name FROM accounts WHERE id = $1', [id]);
  }

  /** Disables (sign-in refused, nothing minted) or enables an account; false when it already was. */
  async setDisabled(id: string, disabled: boolean): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE accounts SET disabled_at = CASE WHEN $2 THEN now() END WHERE id = $1 AND (disabled_at IS NOT NULL) <> $2 RETURNING id`,
      [id, disabled],
    );
    return rows.length === 1;
  }

  async setPassword(id: string, passwordHash: string): Promise<void> {
    await this.db.query('UPDATE accounts SET password_hash = $2 WHERE id = $1', [id, passwordHash]);
  }

  /** Deletes an account (its tokens, keys and memberships go with it), and optionally a workspace. */
  async remove(id: string, workspaceId?: string): Promise<void> {
    await this.db.query('DELETE FROM accounts WHERE id = $1', [id]);
    if (workspaceId) await this.db.query('DELETE FROM workspaces WHERE id = $1', [workspaceId]);
  }

  async count(): Promise<number> {
    return Number((await this.db.one<{ n: string }>('SELECT count(*) AS n FROM accounts'))?.n ?? 0);
  }

  async createWorkspace(name: string): Promise<{ id: string; name: string }> {
    return (await this.db.one<{ id: string; name: string }>('INSERT INTO workspaces (name) VALUES ($1) RETURNING id, name', [name]))!;
  }

  /** Adds (or updates) a membership; the first one an account gets becomes current. */
  async addMember(accountId: string, workspaceId: string, role: Role): Promise<void> {
    await this.db.query(
      `INSERT INTO memberships (account_id, workspace_id, role, current)
       VALUES ($1, $2, $3, NOT EXISTS (SELECT 1 FROM memberships WHERE account_id = $1 AND current))
       ON CONFLICT (account_id, workspace_id) DO UPDATE SET role = excluded.role`,
      [accountId, workspaceId, role],
    );
  }

  async workspaces(accountId: string): Promise<WorkspaceMembership[]> {
    return this.db.query(
      `SELECT w.id, w.name, m.role, m.current FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
        WHERE m.account_id = $1 ORDER BY m.current DESC, w.name, w.id`,
      [accountId],
    );
  }
}
