import { z } from 'zod';
import { JWKS_DEFAULTS, type JwksOptions } from './auth/jwt/key-source.ts';
import { loadTrustedIssuers, TrustedIssuersError, type TrustedIssuer } from './auth/jwt/trusted-issuers.ts';
import { otelSignals, OtelSettingError, type OtelSignals } from './observability/otel-settings.ts';
import { hostPorts, redisDeployment } from './redis-config.ts';
import type { RedisDeployment } from './storage/store/index.ts';

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

/** `localhost:8080` parses as a URL with the scheme `localhost:`; a base URL must say http(s). */
const httpUrl = url.refine((v) => /^https?:\/\/[^/]/i.test(v), 'expected an http:// or https:// URL, e.g. http://localhost:8080');

// One entry per environment variable, so an error can name the variable.
const fields = {
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: int(0, 65535).default(8080),
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  // Observability (docs/observability.md): the metrics listener; OpenTelemetry reads its own OTEL_* variables.
  METRICS_PORT: int(0, 65535).optional(),
  PUBLIC_URL: httpUrl.optional(),
  DATABASE_URL: url.optional(),
  // Redis: one of three deployments (docs/operations.md, "Redis deployments").
  REDIS_URL: url.refine((v) => /^rediss?:\/\//i.test(v), 'expected a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379').optional(),
  REDIS_SENTINELS: hostPorts.optional(),
  REDIS_SENTINEL_MASTER: z.string().trim().min(1).optional(),
  REDIS_SENTINEL_PASSWORD: z.string().min(1).optional(),
  REDIS_CLUSTER_NODES: hostPorts.optional(),
  REDIS_USERNAME: z.string().trim().min(1).optional(),
  REDIS_PASSWORD: z.string().min(1).optional(),
  REDIS_TLS: bool.optional(),
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
  // Token lifecycle (docs/tokens.md, "Sessions and refresh tokens")
  OAUTH_REFRESH_TOKENS: bool.default(true),
  OAUTH_ACCESS_TOKEN_TTL_MINUTES: int(5, 1440).default(60),
  OAUTH_REFRESH_TOKEN_TTL_DAYS: int(1, 3650).default(30),
  OAUTH_SESSION_MAX_DAYS: int(1, 3650).default(90),
  OAUTH_REFRESH_REUSE_GRACE_SECONDS: int(0, 300).default(10),
  OPENAI_BASE_URL: httpUrl.default('https://api.openai.com/v1'),
  OPENAI_API_KEY: z.string().optional(),
  PROVIDER_TIMEOUT_MS: int(100, 600_000).default(60_000),
  SSE_PING_INTERVAL_MS: int(10, 600_000).default(10_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // Enterprise JWT bearers: the issuer list is validated after the loop, entry by entry.
  TRUSTED_JWT_ISSUERS: z.string().optional(),
  // argon2id cost of console passwords (new hashes and the dummy hash for unknown emails).
  // The defaults are the library's (64 MiB, 3 passes); tests lower them so no test depends on CPU speed.
  PASSWORD_HASH_MEMORY_KIB: int(1024, 4_194_304).default(65_536),
  PASSWORD_HASH_TIME_COST: int(1, 20).default(3),
  // Start and console (first hour): log format, sign-in lockout thresholds.
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
  CONSOLE_SIGNIN_ATTEMPTS: int(1, 10_000).default(10),
  CONSOLE_SIGNIN_ATTEMPTS_PER_IP: int(1, 100_000).default(50),
  // Enterprise edition: external single sign-on for the device flow (OpenID Connect relying party).
  SSO_OIDC_ISSUER: url.optional(),
  SSO_OIDC_CLIENT_ID: z.string().trim().min(1).max(200).optional(),
  SSO_OIDC_CLIENT_SECRET: z.string().min(1).max(1000).optional(),
  SSO_OIDC_SCOPES: z
    .string()
    .trim()
    .transform((v) => v.split(/\s+/).filter(Boolean))
    .refine((v) => v.includes('openid'), 'must include openid')
    .default(['openid', 'email', 'profile']),
  SSO_DISPLAY_NAME: z.string().trim().min(1).max(60).default('Single sign-on'),
  SSO_ALLOW_INSECURE_HTTP: bool.default(false),
  // Outages and shutdown (docs/operations.md, docs/apps.md)
  SHUTDOWN_DRAIN_MS: int(0, 600_000).default(5_000),
  SSE_STALL_TIMEOUT_MS: int(100, 600_000).default(30_000),
  RUN_HEARTBEAT_MS: int(50, 600_000).default(10_000),
  RUN_SWEEP_INTERVAL_MS: int(50, 86_400_000).default(60_000),
} as const;

/** OWASP's minimum for argon2id (19 MiB with 2 passes). */
const MIN_PRODUCTION_HASH_KIB = 19_456;

type Fields = typeof fields;
type Raw = { [K in keyof Fields]: z.output<Fields[K]> };

export interface Config {
  readonly env: 'development' | 'test' | 'production';
  readonly port: number;
  readonly host: string;
  /** The port of the second listener that serves `GET /metrics` on HOST; null: no metrics. */
  readonly metricsPort: number | null;
  /** The OpenTelemetry signals the OTEL_* variables turn on (traces, audit log records). */
  readonly otel: OtelSignals;
  readonly publicUrl: string;
  readonly databaseUrl: string | null;
  /** The Redis deployment (one, Sentinel or Cluster); null: the in-process store, one replica only. */
  readonly redis: RedisDeployment | null;
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
  /** Short access tokens with rotating refresh tokens; null (OAUTH_REFRESH_TOKENS=false): one token of accessTokenTtlDays. */
  readonly refreshTokens: RefreshTokensConfig | null;
  readonly openai: { readonly baseUrl: string; readonly apiKey: string | null };
  readonly providerTimeoutMs: number;
  /** How often a run stream sends a `ping` event (10 s by default; proxies close idle streams). */
  readonly ssePingIntervalMs: number;
  readonly logLevel: string;
  /** Allows http:// for the OIDC issuer and for trusted issuers' jwks_uri (local IdPs, tests). */
  readonly ssoAllowInsecureHttp: boolean;
  /** Issuers whose JWTs are accepted as bearers (enterprise edition). */
  readonly trustedJwtIssuers: readonly TrustedIssuer[];
  /** How JWT bearers are verified and bounded (not settings: fixed values, tests shorten or lower them). */
  readonly jwtBearers: JwtBearersConfig;
  /** argon2id parameters for console passwords; production never goes below OWASP's floor. */
  readonly passwordHash: { readonly memoryCost: number; readonly timeCost: number };
  /** `auto`: readable lines on a terminal outside production, JSON otherwise. */
  readonly logFormat: 'auto' | 'json' | 'pretty';
  /** Console sign-in attempts per 15 minutes, per client address and email, and per client address. */
  readonly consoleSignin: { readonly attempts: number; readonly attemptsPerIp: number };
  /** The external-SSO branch of the device flow (enterprise edition); null when SSO_OIDC_ISSUER is unset. */
  readonly sso: SsoConfig | null;
  /** Outages and shutdown: how long in-flight requests get on shutdown; how long a stream waits for a client that does not read; how often running runs prove they are alive, and how often stale ones are swept. */
  readonly shutdownDrainMs: number;
  readonly sseStallTimeoutMs: number;
  readonly runHeartbeatMs: number;
  readonly runSweepIntervalMs: number;
}

export interface RefreshTokensConfig {
  /** Lifetime of a device-flow access token (OAUTH_ACCESS_TOKEN_TTL_MINUTES, in seconds). */
  readonly accessTokenTtlSeconds: number;
  /** A refresh token lapses this long after its last use (idle). */
  readonly refreshTokenTtlDays: number;
  /** No session outlives this, counted from the approval (absolute). */
  readonly sessionMaxDays: number;
  /** A spent refresh token presented again this soon is a racing duplicate, not theft. */
  readonly reuseGraceSeconds: number;
}

export interface JwtBearersConfig {
  /** JWKS cache, cooldown, timeout and failure back-off (docs/enterprise.md, "Keys"). */
  readonly keys: Required<JwksOptions>;
  /** Invalid JWTs one client address may send per window before its cold JWTs are refused (per replica). */
  readonly invalidPerAddress: number;
  readonly invalidWindowMs: number;
}

export interface SsoConfig {
  readonly issuer: string;
  readonly clientId: string;
  /** Null: a public client (PKCE only). */
  readonly clientSecret: string | null;
  readonly scopes: readonly string[];
  readonly displayName: string;
  /** Wait between discovery attempts while the provider cannot be reached (not a setting; tests shorten it). */
  readonly discoveryRetryMs: number;
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
  let trustedJwtIssuers: readonly TrustedIssuer[];
  try {
    trustedJwtIssuers = loadTrustedIssuers(r.TRUSTED_JWT_ISSUERS, { allowInsecureHttp: r.SSO_ALLOW_INSECURE_HTTP });
  } catch (err) {
    if (err instanceof TrustedIssuersError) throw new ConfigError('TRUSTED_JWT_ISSUERS', err.message);
    throw err;
  }
  if (r.NODE_ENV === 'production' && r.PASSWORD_HASH_MEMORY_KIB < MIN_PRODUCTION_HASH_KIB) {
    throw new ConfigError('PASSWORD_HASH_MEMORY_KIB', `at least ${MIN_PRODUCTION_HASH_KIB} in production`);
  }
  if (r.METRICS_PORT !== undefined && r.METRICS_PORT !== 0 && r.METRICS_PORT === r.PORT) {
    throw new ConfigError('METRICS_PORT', 'must differ from PORT: metrics are never served on the public port');
  }
  let otel: OtelSignals;
  try {
    otel = otelSignals(env);
  } catch (err) {
    if (err instanceof OtelSettingError) throw new ConfigError(err.variable, err.message);
    throw err;
  }
  const publicUrl = (r.PUBLIC_URL ?? `http://localhost:${r.PORT}`).replace(/\/+$/, '');
  const sso = ssoConfig(r);
  if (sso) checkSsoAgainstTrustedIssuers(sso, trustedJwtIssuers);
  return Object.freeze({
    env: r.NODE_ENV,
    port: r.PORT,
    host: r.HOST,
    metricsPort: r.METRICS_PORT ?? null,
    otel: Object.freeze(otel),
    publicUrl,
    databaseUrl: r.DATABASE_URL ?? null,
    redis: redisDeployment(r, (variable, detail) => {
      throw new ConfigError(variable, detail);
    }),
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
    refreshTokens: r.OAUTH_REFRESH_TOKENS
      ? Object.freeze({
          accessTokenTtlSeconds: r.OAUTH_ACCESS_TOKEN_TTL_MINUTES * 60,
          refreshTokenTtlDays: r.OAUTH_REFRESH_TOKEN_TTL_DAYS,
          sessionMaxDays: r.OAUTH_SESSION_MAX_DAYS,
          reuseGraceSeconds: r.OAUTH_REFRESH_REUSE_GRACE_SECONDS,
        })
      : null,
    openai: Object.freeze({ baseUrl: r.OPENAI_BASE_URL.replace(/\/+$/, ''), apiKey: r.OPENAI_API_KEY ?? null }),
    providerTimeoutMs: r.PROVIDER_TIMEOUT_MS,
    ssePingIntervalMs: r.SSE_PING_INTERVAL_MS,
    logLevel: r.LOG_LEVEL,
    ssoAllowInsecureHttp: r.SSO_ALLOW_INSECURE_HTTP,
    trustedJwtIssuers,
    jwtBearers: Object.freeze({ keys: Object.freeze({ ...JWKS_DEFAULTS }), invalidPerAddress: 120, invalidWindowMs: 60_000 }),
    passwordHash: Object.freeze({ memoryCost: r.PASSWORD_HASH_MEMORY_KIB, timeCost: r.PASSWORD_HASH_TIME_COST }),
    logFormat: r.LOG_FORMAT,
    consoleSignin: Object.freeze({ attempts: r.CONSOLE_SIGNIN_ATTEMPTS, attemptsPerIp: r.CONSOLE_SIGNIN_ATTEMPTS_PER_IP }),
    sso,
    shutdownDrainMs: r.SHUTDOWN_DRAIN_MS,
    sseStallTimeoutMs: r.SSE_STALL_TIMEOUT_MS,
    runHeartbeatMs: r.RUN_HEARTBEAT_MS,
    runSweepIntervalMs: r.RUN_SWEEP_INTERVAL_MS,
  });
}

function ssoConfig(r: Raw): SsoConfig | null {
  if (!r.SSO_OIDC_ISSUER) {
    if (r.SSO_OIDC_CLIENT_ID) throw new ConfigError('SSO_OIDC_ISSUER', 'required when SSO_OIDC_CLIENT_ID is set');
    return null;
  }
  const issuer = new URL(r.SSO_OIDC_ISSUER);
  if (issuer.protocol !== 'https:' && !(issuer.protocol === 'http:' && r.SSO_ALLOW_INSECURE_HTTP)) {
    throw new ConfigError('SSO_OIDC_ISSUER', 'must be an https:// URL (set SSO_ALLOW_INSECURE_HTTP=true for a local http:// provider)');
  }
  if (issuer.search || issuer.hash) throw new ConfigError('SSO_OIDC_ISSUER', 'must not have a query or fragment');
  if (!r.SSO_OIDC_CLIENT_ID) throw new ConfigError('SSO_OIDC_CLIENT_ID', 'required when SSO_OIDC_ISSUER is set');
  return Object.freeze({
    issuer: r.SSO_OIDC_ISSUER,
    clientId: r.SSO_OIDC_CLIENT_ID,
    clientSecret: r.SSO_OIDC_CLIENT_SECRET ?? null,
    scopes: Object.freeze([...r.SSO_OIDC_SCOPES]),
    displayName: r.SSO_DISPLAY_NAME,
    discoveryRetryMs: 30_000,
  });
}

/**
 * The SSO IdP's own tokens must never pass as bearer tokens: its ID tokens carry
 * `aud` = SSO_OIDC_CLIENT_ID, and a gateway entry for its issuer would turn its users into
 * workspace service accounts.
 */
function checkSsoAgainstTrustedIssuers(sso: SsoConfig, issuers: readonly TrustedIssuer[]): void {
  const audience = issuers.find((t) => t.kind === 'federated' && t.audience === sso.clientId);
  if (audience) {
    throw new ConfigError(
      'TRUSTED_JWT_ISSUERS',
      `federated issuer ${JSON.stringify(audience.issuer)} has audience ${JSON.stringify(audience.audience)}, which is SSO_OIDC_CLIENT_ID: the IdP's ID tokens would be accepted as bearer tokens (use the audience of the access tokens meant for Tessera)`,
    );
  }
  if (issuers.some((t) => t.kind === 'gateway' && t.issuer === sso.issuer)) {
    throw new ConfigError('TRUSTED_JWT_ISSUERS', `SSO_OIDC_ISSUER ${JSON.stringify(sso.issuer)} is listed as a gateway: the single sign-on IdP can only be a federated issuer`);
  }
}

/** A config for tests: defaults plus overrides, without reading process.env. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  // Light password hashing: fixture accounts and the dummy hash cost a millisecond, not a CPU-second.
  const base = loadConfig({
    NODE_ENV: 'test',
    SECRET_KEY: 'test-secret-key-test-secret-key-0123456789',
    PASSWORD_HASH_MEMORY_KIB: '1024',
    PASSWORD_HASH_TIME_COST: '1',
  });
  return Object.freeze({ ...base, ...overrides });
}
