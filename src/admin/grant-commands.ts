import type { Command } from 'commander';
import type { Logger } from 'pino';
import { APPS_CHANNEL } from '../auth/invalidating-cache.ts';
import { GRANTS_CHANNEL } from '../auth/tenancy/external-grants.ts';
import type { Config } from '../config.ts';
import type { AuditSink } from '../observability/audit.ts';
import type { Database } from '../storage/db.ts';
import type { AccessMode } from '../storage/repos/apps.ts';
import type { GrantRow } from '../storage/repos/grants.ts';
import { createStore } from '../storage/store/index.ts';
import { GrantAdmin, grantTarget } from './grants-admin.ts';

type WithDatabase = <T>(fn: (ctx: { db: Database; cfg: Config; log: Logger; audit: AuditSink }) => Promise<T>) => Promise<T>;

const view = (g: GrantRow) => ({
  id: g.id,
  app_id: g.app_id,
  issuer: g.subject_issuer,
  email: g.email,
  domain: g.email_domain,
  created_at: g.created_at.toISOString(),
});

const line = (g: GrantRow) => `${g.subject_issuer}  ${g.email ?? `*@${g.email_domain}`}`;

/** Runs fn with a GrantAdmin whose changes are published to every replica (through the configured Redis). */
function withGrants(withDatabase: WithDatabase, fn: (admin: GrantAdmin, audit: AuditSink) => Promise<void>): Promise<void> {
  return withDatabase(async ({ db, cfg, log, audit }) => {
    const store = await createStore(cfg.redis, log);
    try {
      await fn(
        new GrantAdmin(db, async (appId) => {
          await store.publish(GRANTS_CHANNEL, appId);
          await store.publish(APPS_CHANNEL, appId);
        }),
        audit,
      );
    } finally {
      await store.close();
    }
  });
}

type TargetOptions = { app: string; issuer: string; email?: string; domain?: string; json?: boolean };

/** Enterprise edition: grants of apps to external (SSO) subjects, by email or email domain. */
export function registerGrantCommands(admin: Command, withDatabase: WithDatabase): void {
  const target = (c: Command) =>
    c
      .requiredOption('--app <id>')
      .requiredOption('--issuer <url>', 'the IdP issuer, exactly as in its tokens')
      .option('--email <email>', 'one person')
      .option('--domain <domain>', 'everyone whose email is in this domain')
      .option('--json', 'JSON output');

  target(admin.command('grant-app').description('Let an external subject (or a whole email domain) of an IdP use an app in access mode external')).action(
    (o: TargetOptions) =>
      withGrants(withDatabase, async (g, audit) => {
        const { grant, created } = await g.grant(o.app, grantTarget(o));
        audit('admin.grant-app', { grant_id: grant.id, app_id: grant.app_id, subject_issuer: grant.subject_issuer, email: grant.email, domain: grant.email_domain, created });
        console.log(o.json ? JSON.stringify({ ...view(grant), created }) : `${created ? 'granted' : 'already granted'}: ${line(grant)} → app ${grant.app_id}`);
      }),
  );
  target(admin.command('revoke-app-grant').description('Remove a grant; the subject gets 404 for the app on every replica at once')).action((o: TargetOptions) =>
    withGrants(withDatabase, async (g, audit) => {
      const revoked = await g.revoke(o.app, grantTarget(o));
      if (!revoked) throw new Error('no such grant');
      audit('admin.revoke-app-grant', { grant_id: revoked.id, app_id: revoked.app_id, subject_issuer: revoked.subject_issuer, email: revoked.email, domain: revoked.email_domain });
      console.log(o.json ? JSON.stringify({ ...view(revoked), revoked: true }) : `revoked: ${line(revoked)} → app ${revoked.app_id}`);
    }),
  );
  admin
    .command('list-app-grants')
    .description("List an app's grants")
    .requiredOption('--app <id>')
    .option('--json', 'JSON output')
    .action((o: { app: string; json?: boolean }) =>
      withGrants(withDatabase, async (g) => {
        const grants = await g.list(o.app);
        console.log(o.json ? JSON.stringify({ data: grants.map(view) }) : grants.length ? grants.map(line).join('\n') : 'no grants');
      }),
    );
  admin
    .command('set-access-mode')
    .description("Change an app's access mode (workspace, members or external)")
    .requiredOption('--app <id>')
    .requiredOption('--mode <mode>', 'workspace, members or external')
    .option('--json', 'JSON output')
    .action((o: { app: string; mode: string; json?: boolean }) =>
      withGrants(withDatabase, async (g, audit) => {
        if (!['workspace', 'members', 'external'].includes(o.mode)) throw new Error('--mode must be workspace, members or external');
        await g.setAccessMode(o.app, o.mode as AccessMode);
        audit('admin.set-access-mode', { app_id: o.app, access_mode: o.mode });
        console.log(o.json ? JSON.stringify({ app_id: o.app, access_mode: o.mode }) : `app ${o.app} is now in access mode ${o.mode}`);
      }),
    );
}
