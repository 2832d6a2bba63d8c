import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, testConfig } from '../../src/config.ts';
import { hashPassword } from '../../src/console/signin.ts';

describe('config', () => {
  it('when nothing is set, then the documented defaults apply and the object is frozen', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      publicUrl: 'http://localhost:8080',
      databaseUrl: null,
      redis: null,
      dataDir: './.tessera',
      enableOauthBearer: true,
      edition: 'community',
      rateLimitPerToken: 60,
      knownClientIds: ['tessera-cli'],
      corsAllowOrigins: [],
      deviceCodeTtlSeconds: 900,
      devicePollIntervalSeconds: 5,
      accessTokenTtlDays: 14,
      accessTokenRetentionDays: 30,
      refreshTokens: { accessTokenTtlSeconds: 3600, refreshTokenTtlDays: 30, sessionMaxDays: 90, reuseGraceSeconds: 10 },
      logFormat: 'auto',
      consoleSignin: { attempts: 10, attemptsPerIp: 50 },
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('when lists and booleans are given, then they are parsed', () => {
    const c = loadConfig({ OPENAPI_KNOWN_CLIENT_IDS: 'a, b', OPENAPI_CORS_ALLOW_ORIGINS: 'https://x.test', ENABLE_OAUTH_BEARER: 'false', PUBLIC_URL: 'https://api.test/' });
    expect(c.knownClientIds).toEqual(['a', 'b']);
    expect(c.corsAllowOrigins).toEqual(['https://x.test']);
    expect(c.enableOauthBearer).toBe(false);
    expect(c.publicUrl).toBe('https://api.test');
  });

  it('when the token lifecycle is set, then refresh tokens follow it, and OAUTH_REFRESH_TOKENS=false turns them off', () => {
    const c = loadConfig({
      OAUTH_ACCESS_TOKEN_TTL_MINUTES: '15',
      OAUTH_REFRESH_TOKEN_TTL_DAYS: '7',
      OAUTH_SESSION_MAX_DAYS: '30',
      OAUTH_REFRESH_REUSE_GRACE_SECONDS: '0',
    });
    expect(c.refreshTokens).toEqual({ accessTokenTtlSeconds: 900, refreshTokenTtlDays: 7, sessionMaxDays: 30, reuseGraceSeconds: 0 });
    expect(Object.isFrozen(c.refreshTokens)).toBe(true);
    expect(loadConfig({ OAUTH_REFRESH_TOKENS: 'false' }).refreshTokens).toBeNull();
  });

  it('when the token TTL is out of range, then it is clamped to 1–365 days', () => {
    expect(loadConfig({ OAUTH_ACCESS_TOKEN_TTL_DAYS: '0' }).accessTokenTtlDays).toBe(1);
    expect(loadConfig({ OAUTH_ACCESS_TOKEN_TTL_DAYS: '9999' }).accessTokenTtlDays).toBe(365);
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['ENABLE_OAUTH_BEARER', 'maybe'],
    ['EDITION', 'pro'],
    ['DATABASE_URL', 'not a url'],
    ['OPENAPI_RATE_LIMIT_PER_TOKEN', '0'],
    ['PUBLIC_URL', 'localhost:8080'],
    ['PUBLIC_URL', 'ftp://example.test'],
    ['OPENAI_BASE_URL', 'api.example.test/v1'],
    ['LOG_FORMAT', 'xml'],
    ['CONSOLE_SIGNIN_ATTEMPTS', '0'],
    ['OAUTH_REFRESH_TOKENS', 'sometimes'],
    ['OAUTH_ACCESS_TOKEN_TTL_MINUTES', '4'],
    ['OAUTH_ACCESS_TOKEN_TTL_MINUTES', '1441'],
    ['OAUTH_REFRESH_TOKEN_TTL_DAYS', '0'],
    ['OAUTH_SESSION_MAX_DAYS', '0'],
    ['OAUTH_REFRESH_REUSE_GRACE_SECONDS', '-1'],
    ['OAUTH_REFRESH_REUSE_GRACE_SECONDS', '301'],
  ])('when %s=%s, then a ConfigError names the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^invalid configuration: ${name}: `));
  });

  it('when PUBLIC_URL has no scheme, then the one line says what a good value looks like', () => {
    expect(() => loadConfig({ PUBLIC_URL: 'localhost:8080' })).toThrow(
      'invalid configuration: PUBLIC_URL: expected an http:// or https:// URL, e.g. http://localhost:8080',
    );
  });

  it('when production has no SECRET_KEY, then it refuses to start', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/SECRET_KEY: required in production/);
  });

  it('when nothing is set, then passwords get the production argon2id cost; tests configure a light one', async () => {
    expect(loadConfig({}).passwordHash).toEqual({ memoryCost: 65_536, timeCost: 3 });
    expect(loadConfig({ PASSWORD_HASH_MEMORY_KIB: '131072', PASSWORD_HASH_TIME_COST: '4' }).passwordHash).toEqual({ memoryCost: 131_072, timeCost: 4 });
    expect(await hashPassword(testConfig(), 'pw')).toMatch(/^\$argon2id\$v=19\$m=1024,p=4,t=1\$/);
  });

  it('when production asks for less than 19 MiB per password hash, then it refuses to start', () => {
    const production = { NODE_ENV: 'production', SECRET_KEY: 'x'.repeat(32) };
    expect(() => loadConfig({ ...production, PASSWORD_HASH_MEMORY_KIB: '1024' })).toThrow(/^invalid configuration: PASSWORD_HASH_MEMORY_KIB: at least 19456 in production$/);
    expect(loadConfig({ ...production, PASSWORD_HASH_MEMORY_KIB: '19456' }).passwordHash.memoryCost).toBe(19_456);
    expect(() => loadConfig({ PASSWORD_HASH_TIME_COST: '0' })).toThrow(/^invalid configuration: PASSWORD_HASH_TIME_COST: /);
  });
});
