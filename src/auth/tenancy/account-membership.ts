import type { AppRepo } from '../../storage/repos/apps.ts';
import type { TenancyStrategy } from './tenancy.ts';

/**
 * Accounts (tsa_, tsk_) must be members of the app's workspace, in both editions: turning
 * the enterprise edition on never widens what an account token reaches. The answer is
 * cached with the identity (`verifiedTenants`).
 */
export function accountMembership(apps: Pick<AppRepo, 'isMember'>): TenancyStrategy {
  return {
    admits(auth, app) {
      const ws = app.workspace_id;
      const member = auth.verifiedTenants[ws];
      if (member !== undefined) return member;
      if (auth.accountId === null) return (auth.verifiedTenants[ws] = false);
      return apps.isMember(auth.accountId, ws).then((yes) => (auth.verifiedTenants[ws] = yes));
    },
  };
}
