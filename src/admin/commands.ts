import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Logger } from 'pino';
import { InvalidatingCache } from '../auth/invalidating-cache.ts';
import { generateToken, hashToken } from '../auth/token-kinds.ts';
import { TokenService } from '../auth/token-service.ts';
import type { Config } from '../config.ts';
import type { AuditSink } from '../observability/audit.ts';
import { hashPassword } from '../console/signin.ts';
import type { Database } from '../storage/db.ts';
import { AccountRepo, type Role } from '../storage/repos/accounts.ts';
import { ApiKeyRepo } from '../storage/repos/api-keys.ts';
import type { AccessMode, AppMode } from '../storage/repos/apps.ts';
import { createStore } from '../storage/store/index.ts';
import { accountByEmail, resetPassword } from './accounts-admin.ts';
import { createApp } from './apps-admin.ts';
import { registerGrantCommands } from './grant-commands.ts';
import { registerOffboardingCommands } from './offboarding-commands.ts';

type WithDatabase = <T>(fn: (ctx: { db: Database; cfg: Config; log: Logger; audit: AuditSink }) => Promise<T>) => Promise<T>;

function output(json: boolean, value: Record<string, unknown>, text: string): void {
  console.log(json ? JSON.stringify(value) : text);
}


export function registerAdminCommands(admin: Command, withDatabase: WithDatabase): void {
  registerGrantCommands(admin, withDatabase);
  registerOffboardingCommands(admin, withDatabase);
  admin
    .command('create-account')
    .requiredOption('--email <email>')
    .requiredOption('--name <name>')
    .option('--password <password>', 'defaults to a generated one, printed once')
    .option('--json', 'JSON output')
    .action((o: { email: string; name: string; password?: string; json?: boolean }) =>
      withDatabase(async ({ db, cfg, audit }) => {
        const password = o.password ?? randomBytes(12).toString('base64url');
        const a = await new AccountRepo(db).create(o.email, o.name, await hashPassword(cfg, password));
        audit('admin.create-account', { subject: a.id, email: a.email, password_generated: !o.password });
        output(!!o.json, { ...a, password: o.password ? undefined : password }, `account ${a.id} ${a.email}${o.password ? '' : ` password: ${password}`}`);
      }),
    );
  admin
    .command('reset-password')
    .description('Set a new generated password for an account, print it once, and sign the account out of every browser')
    .requiredOption('--email <email>')
    .option('--json', 'JSON output')
    .action((o: { email: string; json?: boolean }) =>
      withDatabase(async ({ db, cfg, log, audit }) => {
        // Redis holds the running servers' cached session verdicts; the in-process store caches none worth clearing.
        const store = cfg.redis ? await createStore(cfg.redis, log) : null;
        try {
          const r = await resetPassword(db, cfg, store, log, o.email);
          audit('admin.reset-password', { subject: r.id, email: r.email, console_sessions_ended: r.console_sessions_ended });
          const ended = `${r.console_sessions_ended} console session${r.console_sessions_ended === 1 ? '' : 's'} signed out`;
          output(!!o.json, { ...r }, `new password for ${r.email}: ${r.password} (${ended})`);
        } finally {
          await store?.close();
        }
      }),
    );
  admin
    .command('create-workspace')
    .requiredOption('--name <name>')
    .option('--owner <email>', 'make this account the owner')
    .option('--json', 'JSON output')
    .action((o: { name: string; owner?: string; json?: boolean }) =>
      withDatabase(async ({ db, audit }) => {
        const repo = new AccountRepo(db);
        const ws = await repo.createWorkspace(o.name);
        const owner = o.owner ? await accountByEmail(db, o.owner) : null;
        if (owner) await repo.addMember(owner.id, ws.id, 'owner');
        audit('admin.create-workspace', { workspace_id: ws.id, owner: owner?.id ?? null });
        output(!!o.json, ws, `workspace ${ws.id} ${ws.name}`);
      }),
    );
  admin
    .command('add-member')
    .requiredOption('--email <email>')
    .requiredOption('--workspace <id>')
    .option('--role <role>', 'owner, admin, editor or normal', 'normal')
    .option('--json', 'JSON output')
    .action((o: { email: string; workspace: string; role: string; json?: boolean }) =>
      withDatabase(async ({ db, audit }) => {
        if (!['owner', 'admin', 'editor', 'normal'].includes(o.role)) throw new Error('--role must be owner, admin, editor or normal');
        const account = await accountByEmail(db, o.email);
        await new AccountRepo(db).addMember(account.id, o.workspace, o.role as Role);
        audit('admin.add-member', { subject: account.id, workspace_id: o.workspace, role: o.role });
        output(!!o.json, { account_id: account.id, workspace_id: o.workspace, role: o.role }, `${o.email} is ${o.role} of ${o.workspace}`);
      }),
    );
  admin
    .command('create-app')
    .requiredOption('--workspace <id>')
    .requiredOption('--name <name>')
    .requiredOption('--mode <mode>', 'chat, completion or workflow')
    .requiredOption('--config <json|@file>', 'app config as JSON, or @path to a JSON file')
    .option('--description <text>', '', '')
    .option('--tags <a,b>', 'comma-separated tags', '')
    .option('--access-mode <mode>', 'workspace, members or external', 'workspace')
    .option('--disable-api', 'create it with API access off')
    .option('--json', 'JSON output')
    .action(
      (o: { workspace: string; name: string; mode: string; config: string; description: string; tags: string; accessMode: string; disableApi?: boolean; json?: boolean }) =>
        withDatabase(async ({ db, audit }) => {
          if (!['chat', 'completion', 'workflow'].includes(o.mode)) throw new Error('--mode must be chat, completion or workflow');
          const raw = o.config.startsWith('@') ? readFileSync(o.config.slice(1), 'utf8') : o.config;
          const app = await createApp(db, {
            workspaceId: o.workspace,
            name: o.name,
            mode: o.mode as AppMode,
            description: o.description,
            tags: o.tags.split(',').map((t) => t.trim()).filter(Boolean),
            config: JSON.parse(raw),
            enableApi: !o.disableApi,
            accessMode: o.accessMode as AccessMode,
          });
          audit('admin.create-app', { app_id: app.id, workspace_id: o.workspace, mode: app.mode, access_mode: o.accessMode });
          output(!!o.json, app, `app ${app.id} ${app.name} (${app.mode})`);
        }),
    );
  admin
    .command('mint-token')
    .description('Mint a tsa_ device-flow token for an account (for scripts and tests)')
    .requiredOption('--email <email>')
    .option('--client-id <id>', '', 'tessera-cli')
    .option('--device-label <label>', '', 'admin')
    .option('--json', 'JSON output')
    .action((o: { email: string; clientId: string; deviceLabel: string; json?: boolean }) =>
      withDatabase(async ({ db, cfg, log, audit }) => {
        const account = await accountByEmail(db, o.email);
        const store = await createStore(cfg.redis, log);
        try {
          const tokens = new TokenService(cfg, db, new InvalidatingCache(store, log), audit);
          const t = await tokens.mintAccountToken({ accountId: account.id, email: account.email, clientId: o.clientId, deviceLabel: o.deviceLabel });
          audit('admin.mint-token', { subject: account.id, token_id: t.id, client_id: o.clientId, device_label: o.deviceLabel });
          const refresh = t.refresh ? { refresh_token: t.refresh.token, refresh_token_expires_at: t.refresh.expiresAt.toISOString() } : {};
          output(!!o.json, { access_token: t.token, token_id: t.id, expires_at: t.expiresAt.toISOString(), ...refresh }, t.token);
        } finally {
          await store.close();
        }
      }),
    );
  admin
    .command('create-api-key')
    .requiredOption('--email <email>')
    .requiredOption('--name <name>')
    .option('--scopes <list>', 'comma-separated subset of apps:read,apps:run', 'apps:read,apps:run')
    .option('--json', 'JSON output')
    .action((o: { email: string; name: string; scopes: string; json?: boolean }) =>
      withDatabase(async ({ db, audit }) => {
        const scopes = o.scopes.split(',').map((s) => s.trim());
        if (scopes.length === 0 || scopes.some((s) => s !== 'apps:read' && s !== 'apps:run')) throw new Error('--scopes must be a subset of apps:read,apps:run');
        const account = await accountByEmail(db, o.email);
        const key = generateToken('tsk_');
        const row = await new ApiKeyRepo(db).create(account.id, o.name, hashToken(key), scopes, null);
        audit('oauth.token_issued', { token_id: row.id, token_kind: 'api_key', subject: account.id, scopes });
        audit('admin.create-api-key', { subject: account.id, token_id: row.id, scopes });
        output(!!o.json, { id: row.id, key, scopes }, key);
      }),
    );
}
