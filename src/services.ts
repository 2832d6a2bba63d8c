import type { Logger } from 'pino';
import { BearerAuthenticator, type AuditSink } from './auth/bearer-authenticator.ts';
import { APPS_CHANNEL, InvalidatingCache } from './auth/invalidating-cache.ts';
import { TokenService } from './auth/token-service.ts';
import type { Config } from './config.ts';
import type { Database } from './storage/db.ts';
import { AccountRepo } from './storage/repos/accounts.ts';
import { ApiKeyRepo } from './storage/repos/api-keys.ts';
import { AppRepo, type AppRecord } from './storage/repos/apps.ts';
import { TokenRepo } from './storage/repos/tokens.ts';
import type { Store } from './storage/store/index.ts';

export interface Deps {
  config: Config;
  db: Database;
  store: Store;
  log: Logger;
}

/** Everything request handlers use, built once per app instance. */
export interface Services extends Deps {
  audit: AuditSink;
  accounts: AccountRepo;
  apps: AppRepo;
  apiKeys: ApiKeyRepo;
  tokenRepo: TokenRepo;
  authenticator: BearerAuthenticator;
  appCache: InvalidatingCache<AppRecord>;
  tokens: TokenService;
  /** Hooks run on close, in reverse order. */
  onClose: (() => Promise<void>)[];
}

export async function createServices(deps: Deps): Promise<Services> {
  const { config, db, store, log } = deps;
  const audit: AuditSink = (event, fields) => log.info({ audit: true, event, ...fields }, event);
  const tokenRepo = new TokenRepo(db);
  const authenticator = new BearerAuthenticator(config, tokenRepo, store, log, audit);
  const appCache = new InvalidatingCache<AppRecord>(store, log, 30_000, APPS_CHANNEL);
  await authenticator.start();
  await appCache.start();
  const services: Services = {
    ...deps,
    audit,
    accounts: new AccountRepo(db),
    apps: new AppRepo(db),
    apiKeys: new ApiKeyRepo(db),
    tokenRepo,
    authenticator,
    appCache,
    tokens: new TokenService(config, db, authenticator.cache as InvalidatingCache<unknown>, audit),
    onClose: [() => authenticator.stop(), () => appCache.stop()],
  };
  return services;
}
