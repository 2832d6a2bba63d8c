import type { Config } from '../config.ts';

/**
 * How long what a device login mints lives (docs/tokens.md, "Sessions and refresh tokens"),
 * as SQL over the database's clock, so every replica agrees. With refresh tokens: an access
 * token of OAUTH_ACCESS_TOKEN_TTL_MINUTES, a refresh token that lapses
 * OAUTH_REFRESH_TOKEN_TTL_DAYS after its last use, and a session that ends
 * OAUTH_SESSION_MAX_DAYS after the approval whatever happens. Without them
 * (OAUTH_REFRESH_TOKENS=false): one token of OAUTH_ACCESS_TOKEN_TTL_DAYS, no refresh token.
 */
export interface Lifetimes {
  refreshes: boolean;
  accessSeconds: number;
  /** The single token's lifetime without refresh tokens. */
  legacyDays: number;
  idleDays: number;
  maxDays: number;
}

export function lifetimesOf(config: Config): Lifetimes {
  const r = config.refreshTokens;
  return {
    refreshes: r !== null,
    accessSeconds: r?.accessTokenTtlSeconds ?? 0,
    legacyDays: config.accessTokenTtlDays,
    idleDays: r?.refreshTokenTtlDays ?? 0,
    maxDays: r?.sessionMaxDays ?? 0,
  };
}

/** The five values `newSessionExpiries` reads, in its order. */
export const lifetimeValues = (l: Lifetimes): [boolean, number, number, number, number] => [l.refreshes, l.accessSeconds, l.legacyDays, l.idleDays, l.maxDays];

/** A new session's expiries, over `lifetimeValues` placed at $n…$n+4. Without refresh tokens the refresh and session expiries are NULL. */
export function newSessionExpiries(n: number): { expiresAt: string; refreshExpiresAt: string; sessionExpiresAt: string } {
  const [on, secs, days, idle, max] = [0, 1, 2, 3, 4].map((i) => `$${n + i}`);
  return {
    expiresAt: `CASE WHEN ${on}::boolean THEN now() + make_interval(secs => ${secs}::float8) ELSE now() + make_interval(days => ${days}::int) END`,
    refreshExpiresAt: `CASE WHEN ${on}::boolean THEN now() + make_interval(days => least(${idle}::int, ${max}::int)) END`,
    sessionExpiresAt: `CASE WHEN ${on}::boolean THEN now() + make_interval(days => ${max}::int) END`,
  };
}

/** Seconds from now until `at` (0 when past), as `expires_in` fields say it. */
export const secondsUntil = (at: Date): number => Math.max(0, Math.floor((at.getTime() - Date.now()) / 1000));
