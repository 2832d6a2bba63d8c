import { notFound } from '../../errors.ts';
import type { SubjectKind } from '../auth-context.ts';
import type { PipelineDeps, RequestState, Step } from '../pipeline.ts';
import { accountMembership } from '../tenancy/account-membership.ts';
import { externalGrants } from '../tenancy/external-grants.ts';
import { gatewayConfinement } from '../tenancy/gateway-confinement.ts';
import type { TenancyStrategy } from '../tenancy/tenancy.ts';

/**
 * Tenancy, by subject kind and in both editions: accounts by workspace
 * membership, external subjects by grants, gateway service accounts by the workspace in
 * their token. A caller who fails gets 404: the app's existence is not leaked.
 */
export function workspaceMembershipCheck(d: Pick<PipelineDeps, 'apps' | 'grantVerdicts'>): Step {
  const strategies: Record<SubjectKind, TenancyStrategy> = {
    account: accountMembership(d.apps),
    external: externalGrants(d.grantVerdicts),
    gateway: gatewayConfinement(),
  };
  return {
    name: 'WorkspaceMembershipCheck',
    needs: ['auth', 'app'],
    provides: [],
    run(req) {
      const { auth, app } = req.tessera as Required<RequestState>;
      const admitted = strategies[auth.subjectKind].admits(auth, app);
      if (admitted === true) return;
      if (admitted === false) throw notFound('App');
      return admitted.then((yes) => {
        if (!yes) throw notFound('App');
      });
    },
  };
}
