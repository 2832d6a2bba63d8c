import type { AppRepo } from '../../storage/repos/apps.ts';
import type { TenancyStrategy } from './tenancy.ts';

/**
 * Accounts (tsa_, tsk_) must be members of the app's workspace, in both editions: turning
 * the enterprise edition on never widens what an account token reaches. The answer is
 * cached with the identity (`verifiedTenants`).
 */
export function accountMembership(apps: Pick<AppRepo, 'isMember'>): TenancyStrategy {
  return {
    async admits(auth, app) {
      const ws = app.workspace_id;
      let member = auth.verifiedTenants[ws];
      if (member === undefined) {
        member = auth.accountId !== null && (await apps.isMember(auth.accountId, ws));
        auth.verifiedTenants[ws] = member;
      }
      return member;
    },
  };
}
