import type { Logger } from 'pino';
import type { GrantRepo } from '../../storage/repos/grants.ts';
import type { Store } from '../../storage/store/index.ts';
import { InvalidatingCache } from '../invalidating-cache.ts';
import type { TenancyStrategy } from './tenancy.ts';

export const GRANTS_CHANNEL = 'tessera:grants:invalidate';

/**
 * Cached grant verdicts, per app: app id → (issuer, email) → granted. A grant change
 * publishes the app id and every replica drops that app's verdicts; the TTL bounds
 * staleness if a message is missed.
 */
export class GrantVerdicts {
  private readonly cache: InvalidatingCache<Map<string, boolean>>;

  constructor(
    store: Store,
    log: Logger,
    private readonly grants: Pick<GrantRepo, 'isGranted'>,
    ttlMs = 60_000,
  ) {
    this.cache = new InvalidatingCache(store, log, ttlMs, GRANTS_CHANNEL, 10_000);
  }

  start(): Promise<void> {
    return this.cache.start();
  }

  stop(): Promise<void> {
    return this.cache.stop();
  }

  async granted(appId: string, issuer: string, email: string): Promise<boolean> {
    // Issuers are any strings: a separator they could contain would let two pairs share a verdict.
    const key = JSON.stringify([issuer, email.toLowerCase()]);
    let verdicts = this.cache.get(appId);
    const known = verdicts?.get(key);
    if (known !== undefined) return known;
    const granted = await this.grants.isGranted(appId, issuer, email);
    if (!verdicts) {
      verdicts = new Map();
      this.cache.set(appId, verdicts);
    }
    verdicts.set(key, granted);
    return granted;
  }

  /** After a grant change: drop this app's verdicts here at once and on every other replica. */
  invalidate(appId: string): Promise<void> {
    return this.cache.invalidate([appId]);
  }
}

/**
 * External subjects (tse_, federated JWTs) see only the apps granted to them: an app in
 * access mode `external` with a grant for their email, or their email's domain, at their
 * issuer. A grant on an app in another access mode is dormant.
 */
export function externalGrants(verdicts: Pick<GrantVerdicts, 'granted'>): TenancyStrategy {
  return {
    async admits(auth, app) {
      if (app.access_mode !== 'external' || !auth.email) return false;
      return verdicts.granted(app.id, auth.issuer, auth.email);
    },
  };
}
