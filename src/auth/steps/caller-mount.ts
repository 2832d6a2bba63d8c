import type { RequestState, Step } from '../pipeline.ts';

/** Runs are attributed to the caller: an account, or an end user `(issuer, subject)` for everyone else. */
export function callerMount(): Step {
  return {
    name: 'CallerMount',
    needs: ['auth', 'app'],
    provides: ['caller'],
    run(req) {
      const { auth } = req.tessera as Required<RequestState>;
      req.tessera.caller =
        auth.subjectKind === 'account'
          ? { type: 'account', accountId: auth.accountId!, email: auth.email }
          : { type: 'end_user', subject: auth.subject, issuer: auth.issuer };
    },
  };
}
