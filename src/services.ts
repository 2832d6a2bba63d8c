import type { Logger } from 'pino';
import { createProviders, type Providers } from './apps/providers/index.ts';
import { RunLiveness } from './apps/run-sweeper.ts';
import { TaskRegistry } from './apps/tasks.ts';
import { auditTo, type AuditSink } from './observability/audit.ts';
import { BearerAuthenticator } from './auth/bearer-authenticator.ts';
import { APPS_CHANNEL, InvalidatingCache } from './auth/invalidating-cache.ts';
import { jwtBearersFor, type JwtBearerStrategy } from './auth/strategies/jwt-bearers.ts';
import { GrantVerdicts } from './auth/tenancy/external-grants.ts';
import { TokenService } from './auth/token-service.ts';
import type { Config } from './config.ts';
import { Sso, ssoEnabled } from './sso/sso.ts';
import type { Database } from './storage/db.ts';
import { AccountRepo } from './storage/repos/accounts.ts';
import { ApiKeyRepo } from './storage/repos/api-keys.ts';
import { AppRepo, type AppRecord } from './storage/repos/apps.ts';
import { ConversationRepo } from './storage/repos/conversations.ts';
import { GrantRepo } from './storage/repos/grants.ts';
import { TokenRepo } from './storage/repos/tokens.ts';
import { WorkflowRunRepo } from './storage/repos/workflow-runs.ts';
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
  /** JWT bearers from trusted issuers, one of the authenticator's strategies; null in the community edition. */
  jwtBearers: JwtBearerStrategy | null;
  appCache: InvalidatingCache<AppRecord>;
  /** Grants of apps to external subjects, and their cached verdicts (invalidated on every replica). */
  grants: GrantRepo;
  grantVerdicts: GrantVerdicts;
  tokens: TokenService;
  conversations: ConversationRepo;
  workflowRuns: WorkflowRunRepo;
  providers: Providers;
  /** Running app tasks of this replica; stops arrive over store pub/sub. */
  tasks: TaskRegistry;
  /** The external-SSO branch of the device flow; null unless enterprise with SSO_OIDC_ISSUER. */
  sso: Sso | null;
  /** Heartbeats of this replica's runs, and the sweeper of runs whose heartbeat stopped. */
  runs: RunLiveness;
  /** Hooks run on close, in reverse order. */
  onClose: (() => Promise<void>)[];
}

export async function createServices(deps: Deps): Promise<Services> {
  const { config, db, store, log } = deps;
  const audit = auditTo(log);
  const tokenRepo = new TokenRepo(db);
  const authenticator = new BearerAuthenticator(config, tokenRepo, store, log, audit);
  // Enterprise only: in the community edition no verifier is built and a dotted bearer is
  // claimed by no strategy (401 invalid_token, no I/O).
  const jwtBearers = jwtBearersFor(config, log);
  if (jwtBearers) authenticator.use(jwtBearers);
  else if (config.trustedJwtIssuers.length > 0) log.warn('TRUSTED_JWT_ISSUERS is set, but JWT bearers need EDITION=enterprise: they are refused');
  const appCache = new InvalidatingCache<AppRecord>(store, log, 30_000, APPS_CHANNEL);
  const grants = new GrantRepo(db);
  const grantVerdicts = new GrantVerdicts(store, log, grants);
  await authenticator.start();
  await appCache.start();
  await grantVerdicts.start();
  const tasks = new TaskRegistry(store, log);
  await tasks.start();
  const sso = ssoEnabled(config) ? new Sso(config, store, log) : null;
  // One discovery attempt at start; an unreachable provider is retried later and never stops the server.
  await sso?.rp.start();
  if (config.edition === 'enterprise' && !sso) log.info('enterprise edition without SSO_OIDC_ISSUER: the external-SSO branch of the device flow is off');
  const runs = new RunLiveness(db, store, log, config);
  runs.start();
  const services: Services = {
    ...deps,
    audit,
    accounts: new AccountRepo(db),
    apps: new AppRepo(db),
    apiKeys: new ApiKeyRepo(db),
    tokenRepo,
    authenticator,
    jwtBearers,
    appCache,
    grants,
    grantVerdicts,
    tokens: new TokenService(config, db, authenticator.cache as InvalidatingCache<unknown>, audit),
    conversations: new ConversationRepo(db),
    workflowRuns: new WorkflowRunRepo(db),
    providers: createProviders(config),
    tasks,
    sso,
    runs,
    onClose: [
      () => authenticator.stop(),
      () => appCache.stop(),
      () => grantVerdicts.stop(),
      () => tasks.stopAll(),
      async () => runs.stop(),
      async () => sso?.rp.stop(),
    ],
  };
  return services;
}

/** One instance of a use case per app instance, shared by every router that needs it. */
export function perServices<T>(make: (s: Services) => T): (s: Services) => T {
  const instances = new WeakMap<Services, T>();
  return (s) => {
    let instance = instances.get(s);
    if (instance === undefined) {
      instance = make(s);
      instances.set(s, instance);
    }
    return instance;
  };
}
