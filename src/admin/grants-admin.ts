import type { Database } from '../storage/db.ts';
import type { AccessMode } from '../storage/repos/apps.ts';
import { GrantRepo, type GrantRow, type GrantTarget } from '../storage/repos/grants.ts';

export class GrantInputError extends Error {}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

/** Checks and normalises `--issuer` and `--email` / `--domain` (exactly one). */
export function grantTarget(o: { issuer?: string; email?: string; domain?: string }): GrantTarget {
  const issuer = o.issuer?.trim() ?? '';
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new GrantInputError('--issuer must be the IdP issuer URL, exactly as in its tokens (`tessera whoami` shows it)');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new GrantInputError('--issuer must be an http(s) URL');
  if ((o.email === undefined) === (o.domain === undefined)) throw new GrantInputError('give exactly one of --email and --domain');
  if (o.email !== undefined) {
    const email = o.email.trim().toLowerCase();
    if (!/^[^\s@]+@[^\s@]+$/.test(email)) throw new GrantInputError(`--email ${o.email} is not an email address`);
    return { issuer, email };
  }
  const domain = o.domain!.trim().toLowerCase();
  if (!DOMAIN.test(domain)) throw new GrantInputError(`--domain ${o.domain} is not a domain name (like example.com)`);
  return { issuer, domain };
}

/**
 * Grants of apps to external subjects (the admin commands). Every change calls
 * `invalidate(appId)`, which drops cached verdicts on every replica.
 */
export class GrantAdmin {
  private readonly grants: GrantRepo;

  constructor(
    private readonly db: Database,
    private readonly invalidate: (appId: string) => Promise<void>,
  ) {
    this.grants = new GrantRepo(db);
  }

  private async app(appId: string): Promise<{ id: string; name: string; access_mode: AccessMode }> {
    const app = UUID.test(appId) ? await this.db.one<{ id: string; name: string; access_mode: AccessMode }>('SELECT id, name, access_mode FROM apps WHERE id = $1', [appId]) : undefined;
    if (!app) throw new GrantInputError(`no app with id ${appId}`);
    return app;
  }

  async grant(appId: string, target: GrantTarget): Promise<{ grant: GrantRow; created: boolean }> {
    const app = await this.app(appId);
    if (app.access_mode !== 'external') {
      throw new GrantInputError(
        `app ${app.id} (${app.name}) has access mode ${app.access_mode}; only apps in access mode external can be granted to external subjects (admin set-access-mode --app ${app.id} --mode external)`,
      );
    }
    const result = await this.grants.grant(app.id, target);
    await this.invalidate(app.id);
    return result;
  }

  async revoke(appId: string, target: GrantTarget): Promise<GrantRow | undefined> {
    const app = await this.app(appId);
    const revoked = await this.grants.revoke(app.id, target);
    await this.invalidate(app.id);
    return revoked;
  }

  async list(appId: string): Promise<GrantRow[]> {
    return this.grants.listForApp((await this.app(appId)).id);
  }

  async setAccessMode(appId: string, mode: AccessMode): Promise<void> {
    const app = await this.app(appId);
    await this.db.query('UPDATE apps SET access_mode = $2, updated_at = now() WHERE id = $1', [app.id, mode]);
    await this.invalidate(app.id);
  }
}
