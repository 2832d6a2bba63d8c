import { once } from 'node:events';
import type { Server } from 'node:http';
import { Command } from 'commander';
import { registerAdminCommands } from './admin/commands.ts';
import { DEMO_EMAIL, seedDemo } from './admin/seed.ts';
import { createApp } from './app.ts';
import { pruneTokens } from './auth/pruner.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { createLogger } from './logger.ts';
import { openDatabase, resolveSecretKey } from './server/bootstrap.ts';
import { ensureDocs } from './server/docs.ts';
import { installShutdown } from './server/shutdown.ts';
import { AccountRepo } from './storage/repos/accounts.ts';
import { createStore } from './storage/store/index.ts';

function config(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`tessera: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
}

async function start(): Promise<void> {
  const base = config();
  const log = createLogger(base.logLevel);
  const cfg: Config = Object.freeze({ ...base, secretKey: await resolveSecretKey(base) });
  const database = await openDatabase(cfg, log);
  let demo = null;
  let demoExists = false;
  // Only an empty embedded database is seeded; an external DATABASE_URL never is.
  if (database.embedded) {
    const accounts = new AccountRepo(database.db);
    if ((await accounts.count()) === 0) demo = await seedDemo(database.db);
    else demoExists = (await accounts.findByEmail(DEMO_EMAIL)) !== undefined;
  }
  const store = await createStore(cfg.redisUrl, log);
  const app = await createApp({ config: cfg, db: database.db, store, log });

  ensureDocs(log);
  const server: Server = app.express.listen(cfg.port, cfg.host);
  await once(server, 'listening');
  const pruner = setInterval(() => void pruneTokens(database.db, store, cfg.accessTokenRetentionDays, log).catch(() => undefined), 6 * 3600_000).unref();
  log.info({ url: cfg.publicUrl, edition: cfg.edition }, 'tessera listening');
  const lines = [
    '',
    `  Tessera is running at ${cfg.publicUrl}`,
    `  API:    ${cfg.publicUrl}/openapi/v1/_health`,
    `  Docs:   ${cfg.publicUrl}/docs`,
    `  Spec:   ${cfg.publicUrl}/openapi/v1/openapi.yaml`,
    `  Device: ${cfg.publicUrl}/device`,
  ];
  if (demo) {
    lines.push(
      '',
      '  Demo workspace created. Sign in with (the password is shown only this once):',
      `    email:    ${demo.email}`,
      `    password: ${demo.password}`,
      ...demo.apps.map((a) => `    ${a.mode.padEnd(10)} app ${a.id}  (${a.name})`),
    );
  }
  if (demoExists) lines.push('', `  Demo account: ${DEMO_EMAIL} (its password was printed at the first start)`);
  console.log(lines.join('\n') + '\n');

  installShutdown({ server, app, store, database, log, timers: [pruner], drainMs: cfg.shutdownDrainMs });
}

async function withDatabase<T>(fn: (ctx: { db: import('./storage/db.ts').Database; cfg: Config; log: ReturnType<typeof createLogger> }) => Promise<T>): Promise<T> {
  const cfg = config();
  const log = createLogger(process.env.LOG_LEVEL ?? 'warn');
  const database = await openDatabase(cfg, log);
  try {
    return await fn({ db: database.db, cfg, log });
  } finally {
    await database.stop();
  }
}

const program = new Command('tessera-server').description('The Tessera API server and its admin tools');
program.command('start').description('Start the server (migrates first)').action(start);
program
  .command('migrate')
  .description('Apply database migrations and exit')
  .action(() => withDatabase(async () => console.log('migrations are up to date')));
program
  .command('prune')
  .description('Delete revoked and expired tokens past retention, once')
  .action(() =>
    withDatabase(async ({ db, cfg, log }) => {
      const store = await createStore(cfg.redisUrl, log);
      try {
        const result = await pruneTokens(db, store, cfg.accessTokenRetentionDays, log);
        console.log(result ? `pruned ${result.tokens} tokens and ${result.apiKeys} API keys` : 'another replica is pruning; nothing done');
      } finally {
        await store.close();
      }
    }),
  );
registerAdminCommands(program.command('admin').description('Create accounts, workspaces, memberships, apps and tokens'), withDatabase);

program.parseAsync().catch((err: unknown) => {
  console.error(`tessera-server: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
