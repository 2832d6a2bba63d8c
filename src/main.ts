import { Command } from 'commander';
import { registerAdminCommands } from './admin/commands.ts';
import { pruneTokens } from './auth/pruner.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { createLogger, resolveLogFormat, type Logger } from './logger.ts';
import { auditTo, type AuditSink } from './observability/audit.ts';
import { startOpenTelemetry } from './observability/tracing.ts';
import { openDatabase, resolveSecretKey } from './server/bootstrap.ts';
import { startServer } from './server/start.ts';
import type { Database } from './storage/db.ts';
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

const logger = (cfg: Config, level: string) => createLogger(level, undefined, resolveLogFormat(cfg.logFormat, cfg.env));

async function start(): Promise<void> {
  const base = config();
  const log = logger(base, base.logLevel);
  const cfg: Config = Object.freeze({ ...base, secretKey: await resolveSecretKey(base) });
  await startServer(cfg, log);
}

/**
 * Admin commands open the database (or use the embedded one a running server has), then
 * close it. Their audit events are log lines (at info: LOG_LEVEL=info shows them) and, with
 * OTLP log export on, log records sent before the command exits.
 */
async function withDatabase<T>(fn: (ctx: { db: Database; cfg: Config; log: Logger; audit: AuditSink }) => Promise<T>): Promise<T> {
  const cfg = config();
  const log = logger(cfg, process.env.LOG_LEVEL ?? 'warn');
  const database = await openDatabase(cfg, log, { attach: true });
  const otel = await startOpenTelemetry({ traces: false, logs: cfg.otel.logs }, log).catch(async (err: unknown) => {
    await database.stop();
    throw err;
  });
  try {
    return await fn({ db: database.db, cfg, log, audit: auditTo(log) });
  } finally {
    await database.stop();
    await otel?.shutdown();
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
      const store = await createStore(cfg.redis, log);
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
