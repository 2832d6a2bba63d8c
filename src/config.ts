import { z } from 'zod';

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    detail: string,
  ) {
    super(`invalid configuration: ${variable}: ${detail}`);
  }
}

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['true', 'false', '1', '0', 'yes', 'no'].includes(v), 'expected true or false')
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, 'expected an integer')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const list = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );

const url = z.string().trim().url('expected a URL');

// One entry per environment variable, so an error can name the variable.
const fields = {
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: int(0, 65535).default(8080),
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  PUBLIC_URL: url.optional(),
  DATABASE_URL: url.optional(),
  REDIS_URL: url.optional(),
  DATA_DIR: z.string().trim().min(1).default('./.tessera'),
  SECRET_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  ENABLE_OAUTH_BEARER: bool.default(true),
  EDITION: z.enum(['community', 'enterprise']).default('community'),
  OPENAPI_RATE_LIMIT_PER_TOKEN: int(1, 1_000_000).default(60),
  OPENAPI_KNOWN_CLIENT_IDS: list.default(['tessera-cli']),
  OPENAPI_CORS_ALLOW_ORIGINS: list.default([]),
  OAUTH_DEVICE_CODE_TTL_SECONDS: int(60, 86_400).default(900),
  OAUTH_DEVICE_POLL_INTERVAL_SECONDS: int(1, 60).default(5),
  OAUTH_ACCESS_TOKEN_TTL_DAYS: int(-100_000, 100_000).default(14),
  OAUTH_ACCESS_TOKEN_RETENTION_DAYS: int(1, 3650).default(30),
  OPENAI_BASE_URL: url.default('https://api.openai.com/v1'),
  OPENAI_API_KEY: z.string().optional(),
  PROVIDER_TIMEOUT_MS: int(100, 600_000).default(60_000),
  SSE_PING_INTERVAL_MS: int(10, 600_000).default(10_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // Outages and shutdown (docs/operations.md, docs/apps.md)
  SHUTDOWN_DRAIN_MS: int(0, 600_000).default(5_000),
  SSE_STALL_TIMEOUT_MS: int(100, 600_000).default(30_000),
  RUN_HEARTBEAT_MS: int(50, 600_000).default(10_000),
  RUN_SWEEP_INTERVAL_MS: int(50, 86_400_000).default(60_000),
} as const;

type Fields = typeof fields;
type Raw = { [K in keyof Fields]: z.output<Fields[K]> };

export interface Config {
  readonly env: 'development' | 'test' | 'production';
  readonly port: number;
  readonly host: string;
  readonly publicUrl: string;
  readonly databaseUrl: string | null;
  readonly redisUrl: string | null;
  readonly dataDir: string;
  /** Null until resolved at start (generated into DATA_DIR outside production). */
  readonly secretKey: string | null;
  readonly enableOauthBearer: boolean;
  readonly edition: 'community' | 'enterprise';
  readonly rateLimitPerToken: number;
  readonly knownClientIds: readonly string[];
  readonly corsAllowOrigins: readonly string[];
  readonly deviceCodeTtlSeconds: number;
  readonly devicePollIntervalSeconds: number;
  readonly accessTokenTtlDays: number;
  readonly accessTokenRetentionDays: number;
  readonly openai: { readonly baseUrl: string; readonly apiKey: string | null };
  readonly providerTimeoutMs: number;
  /** How often a run stream sends a `ping` event (DESIGN §7: 10 s). */
  readonly ssePingIntervalMs: number;
  readonly logLevel: string;
  /** Outages and shutdown: how long in-flight requests get on shutdown; how long a stream waits for a client that does not read; how often running runs prove they are alive, and how often stale ones are swept. */
  readonly shutdownDrainMs: number;
  readonly sseStallTimeoutMs: number;
  readonly runHeartbeatMs: number;
  readonly runSweepIntervalMs: number;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw = {} as Record<string, unknown>;
  for (const [name, schema] of Object.entries(fields)) {
    const value = env[name];
    const result = (schema as z.ZodTypeAny).safeParse(value === '' ? undefined : value);
    if (!result.success) {
      throw new ConfigError(name, result.error.issues[0]?.message ?? 'invalid value');
    }
    raw[name] = result.data;
  }
  const r = raw as Raw;
  if (r.NODE_ENV === 'production' && !r.SECRET_KEY) {
    throw new ConfigError('SECRET_KEY', 'required in production');
  }
  const publicUrl = (r.PUBLIC_URL ?? `http://localhost:${r.PORT}`).replace(/\/+$/, '');
  return Object.freeze({
    env: r.NODE_ENV,
    port: r.PORT,
    host: r.HOST,
    publicUrl,
    databaseUrl: r.DATABASE_URL ?? null,
    redisUrl: r.REDIS_URL ?? null,
    dataDir: r.DATA_DIR,
    secretKey: r.SECRET_KEY ?? null,
    enableOauthBearer: r.ENABLE_OAUTH_BEARER,
    edition: r.EDITION,
    rateLimitPerToken: r.OPENAPI_RATE_LIMIT_PER_TOKEN,
    knownClientIds: Object.freeze([...r.OPENAPI_KNOWN_CLIENT_IDS]),
    corsAllowOrigins: Object.freeze([...r.OPENAPI_CORS_ALLOW_ORIGINS]),
    deviceCodeTtlSeconds: r.OAUTH_DEVICE_CODE_TTL_SECONDS,
    devicePollIntervalSeconds: r.OAUTH_DEVICE_POLL_INTERVAL_SECONDS,
    accessTokenTtlDays: Math.min(365, Math.max(1, r.OAUTH_ACCESS_TOKEN_TTL_DAYS)),
    accessTokenRetentionDays: r.OAUTH_ACCESS_TOKEN_RETENTION_DAYS,
    openai: Object.freeze({ baseUrl: r.OPENAI_BASE_URL.replace(/\/+$/, ''), apiKey: r.OPENAI_API_KEY ?? null }),
    providerTimeoutMs: r.PROVIDER_TIMEOUT_MS,
    ssePingIntervalMs: r.SSE_PING_INTERVAL_MS,
    logLevel: r.LOG_LEVEL,
    shutdownDrainMs: r.SHUTDOWN_DRAIN_MS,
    sseStallTimeoutMs: r.SSE_STALL_TIMEOUT_MS,
    runHeartbeatMs: r.RUN_HEARTBEAT_MS,
    runSweepIntervalMs: r.RUN_SWEEP_INTERVAL_MS,
  });
}

/** A config for tests: defaults plus overrides, without reading process.env. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  const base = loadConfig({ NODE_ENV: 'test', SECRET_KEY: 'test-secret-key-test-secret-key-0123456789' });
  return Object.freeze({ ...base, ...overrides });
}
