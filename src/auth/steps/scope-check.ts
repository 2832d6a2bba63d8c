import { ApiError } from '../../errors.ts';
import { dpopChallenge } from '../dpop/refusals.ts';
import type { Step } from '../pipeline.ts';
import { hasScope, scopeFor, type ScopeRule } from '../scopes.ts';

const SUBJECTS = { account: 'an account', external: 'an external (SSO) subject', gateway: 'a gateway service account' };

/**
 * The route's rule for this kind of subject: a kind it does not list gets 403
 * `wrong_subject` (e.g. a tse_ token on /apps); then the scope (RFC 6750 §3.1), challenged
 * in the scheme the token came in (RFC 9449 §7.1 allows `scope` in a DPoP challenge).
 */
export function scopeCheck(rule: ScopeRule): Step {
  return {
    name: 'ScopeCheck',
    needs: ['auth'],
    provides: [],
    run(req) {
      const auth = req.tessera.auth!;
      const scope = scopeFor(rule, auth.subjectKind);
      if (scope === undefined) throw new ApiError(403, 'wrong_subject', `This route is not for ${SUBJECTS[auth.subjectKind]}.`);
      if (scope === null || hasScope(auth.scopes, scope)) return;
      const challenge =
        req.tessera.scheme === 'DPoP'
          ? dpopChallenge({ code: 'insufficient_scope', scope })
          : `Bearer realm="tessera", error="insufficient_scope", scope="${scope}"`;
      throw new ApiError(403, 'insufficient_scope', `This route needs the ${scope} scope.`, { headers: { 'WWW-Authenticate': challenge } });
    },
  };
}
