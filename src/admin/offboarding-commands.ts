import type { Command } from 'commander';
import type { Logger } from 'pino';
import { InvalidatingCache } from '../auth/invalidating-cache.ts';
import { TokenService } from '../auth/token-service.ts';
import type { Config } from '../config.ts';
import type { AuditSink } from '../observability/audit.ts';
import { Offboarding } from '../offboarding/offboarding.ts';
import type { Database } from '../storage/db.ts';
import { createStore, MemoryStore } from '../storage/store/index.ts';

type WithDatabase = <T>(fn: (ctx: { db: Database; cfg: Config; log: Logger; audit: AuditSink }) => Promise<T>) => Promise<T>;

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

/**
 * Runs fn with an Offboarding whose revocations are published to every running replica,
 * through the configured Redis. Without one there is no shared store to publish to: a
 * server on its in-process store drops the identities it cached within a minute.
 */
function withOffboarding(withDatabase: WithDatabase, fn: (o: Offboarding) => Promise<void>): Promise<void> {
  return withDatabase(async ({ db, cfg, log, audit }) => {
    const store = cfg.redis ? await createStore(cfg.redis, log) : null;
    if (!store) log.warn('no Redis is configured (REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES): a server running on its in-process store stops accepting what was ended within a minute (its identity cache)');
    const cache = new InvalidatingCache<unknown>(store ?? new MemoryStore(), log);
    try {
      await fn(new Offboarding({ db, tokens: new TokenService(cfg, db, cache, audit), cache, store, log, audit }));
    } finally {
      await cache.stop();
      await store?.close();
    }
  });
}

/** Taking access away (docs/enterprise.md, "Offboarding"): an account, or an external subject of an IdP. */
export function registerOffboardingCommands(admin: Command, withDatabase: WithDatabase): void {
  admin
    .command('disable-account')
    .description('Refuse sign-in for an account and end every device session, API key and console session it has, on every replica at once')
    .requiredOption('--email <email>')
    .option('--json', 'JSON output')
    .action((o: { email: string; json?: boolean }) =>
      withOffboarding(withDatabase, async (off) => {
        const r = await off.disableAccount(o.email);
        const ended = `${plural(r.sessions_ended, 'device session')}, ${plural(r.api_keys_revoked, 'API key')} and ${plural(r.console_sessions_ended, 'console session')} ended`;
        console.log(o.json ? JSON.stringify(r) : `${r.newly_disabled ? 'disabled' : 'already disabled'}: ${r.email} (${ended})`);
      }),
    );
  admin
    .command('enable-account')
    .description('Let a disabled account sign in again (nothing that was ended comes back)')
    .requiredOption('--email <email>')
    .option('--json', 'JSON output')
    .action((o: { email: string; json?: boolean }) =>
      withOffboarding(withDatabase, async (off) => {
        const r = await off.enableAccount(o.email);
        console.log(o.json ? JSON.stringify(r) : `${r.newly_enabled ? 'enabled' : 'already enabled'}: ${r.email}`);
      }),
    );
  admin
    .command('revoke-subject')
    .description('End every device session of an external (single sign-on) subject, on every replica at once')
    .requiredOption('--issuer <url>', 'the IdP issuer, exactly as in its tokens')
    .requiredOption('--email <email>')
    .option('--json', 'JSON output')
    .action((o: { issuer: string; email: string; json?: boolean }) =>
      withOffboarding(withDatabase, async (off) => {
        const r = await off.revokeSubject(o.issuer, o.email);
        console.log(o.json ? JSON.stringify(r) : `${plural(r.sessions_ended, 'device session')} of ${r.email} at ${r.issuer} ended`);
      }),
    );
}
