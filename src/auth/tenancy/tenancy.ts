import type { AppRecord } from '../../storage/repos/apps.ts';
import type { AuthContext } from '../auth-context.ts';

/**
 * Whether a caller may reach an app's workspace at all. One strategy per subject kind;
 * WorkspaceMembershipCheck picks it. Warm answers come from caches (no Postgres).
 */
export interface TenancyStrategy {
  admits(auth: AuthContext, app: AppRecord): Promise<boolean> | boolean;
}
