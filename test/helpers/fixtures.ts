import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import { createApp as insertApp, type NewApp } from '../../src/admin/apps-admin.ts';
import { generateToken, hashToken } from '../../src/auth/token-kinds.ts';
import type { Database } from '../../src/storage/db.ts';
import { AccountRepo, type Role } from '../../src/storage/repos/accounts.ts';
import { ApiKeyRepo } from '../../src/storage/repos/api-keys.ts';
import type { TestServer } from './server.ts';

export const uniq = () => randomBytes(6).toString('hex');

export interface TestAccount {
  id: string;
  email: string;
  password: string;
}

/** A fresh account (unique email) with a known password; argon2 with test-light parameters. */
export async function createAccount(db: Database, name = 'Test User'): Promise<TestAccount> {
  const email = `user-${uniq()}@example.test`;
  const password = `pw-${uniq()}`;
  const hash = await argon2.hash(password, { memoryCost: 1024, timeCost: 1 });
  const a = await new AccountRepo(db).create(email, name, hash);
  return { id: a.id, email, password };
}

export async function createWorkspace(db: Database, ownerId?: string, role: Role = 'owner'): Promise<string> {
  const repo = new AccountRepo(db);
  const ws = await repo.createWorkspace(`ws-${uniq()}`);
  if (ownerId) await repo.addMember(ownerId, ws.id, role);
  return ws.id;
}

export async function addMember(db: Database, accountId: string, workspaceId: string, role: Role = 'normal'): Promise<void> {
  await new AccountRepo(db).addMember(accountId, workspaceId, role);
}

export const ECHO_CHAT_CONFIG = { model: { provider: 'echo', name: 'echo-1' }, prompt: '{{ query }}', input_schema: [] };

export async function createTestApp(db: Database, workspaceId: string, over: Partial<NewApp> = {}): Promise<string> {
  const app = await insertApp(db, { workspaceId, name: `app-${uniq()}`, mode: 'chat', config: ECHO_CHAT_CONFIG, tags: ['test'], ...over });
  return app.id;
}

/** A tsa_ token minted the way the device flow does (rotation per device label). */
export async function mintToken(server: TestServer, account: TestAccount, deviceLabel = `dev-${uniq()}`): Promise<string> {
  const t = await server.app.services.tokens.mintAccountToken({ accountId: account.id, email: account.email, clientId: 'tessera-cli', deviceLabel });
  return t.token;
}

/** A device session minted the way the device flow does: its access token, its refresh token (null with OAUTH_REFRESH_TOKENS=false) and its id. */
export async function mintSession(server: TestServer, account: TestAccount, deviceLabel = `dev-${uniq()}`): Promise<{ access: string; refresh: string | null; id: string }> {
  const t = await server.app.services.tokens.mintAccountToken({ accountId: account.id, email: account.email, clientId: 'tessera-cli', deviceLabel });
  return { access: t.token, refresh: t.refresh?.token ?? null, id: t.id };
}

export async function createApiKey(db: Database, accountId: string, scopes: string[]): Promise<string> {
  const key = generateToken('tsk_');
  await new ApiKeyRepo(db).create(accountId, `key-${uniq()}`, hashToken(key), scopes, null);
  return key;
}

/** An account that owns a workspace with one echo chat app, plus a token. */
export async function member(server: TestServer) {
  const account = await createAccount(server.db);
  const workspaceId = await createWorkspace(server.db, account.id);
  const appId = await createTestApp(server.db, workspaceId);
  const token = await mintToken(server, account);
  return { account, workspaceId, appId, token, auth: { Authorization: `Bearer ${token}` } };
}
