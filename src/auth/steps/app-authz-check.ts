import { forbidden } from '../../errors.ts';
import type { RequestState, Step } from '../pipeline.ts';

/**
 * The app must be enabled for API use, and its access mode must admit the caller:
 * `workspace` every member, `members` the listed ones, `external` members and the
 * external subjects it is granted to (whose grant WorkspaceMembershipCheck has checked).
 * A gateway service account counts as a member of its workspace but is never a listed
 * one: an app narrowed to listed accounts stays closed to whoever stands behind a gateway.
 */
export function appAuthzCheck(): Step {
  return {
    name: 'AppAuthzCheck',
    needs: ['auth', 'app'],
    provides: [],
    run(req) {
      const { auth, app } = req.tessera as Required<RequestState>;
      if (!app.enable_api) throw forbidden('This app is not enabled for API access.');
      if (auth.subjectKind === 'external' || app.access_mode !== 'members') return;
      if (auth.subjectKind === 'gateway' || !app.member_ids.includes(auth.accountId!)) throw forbidden('You are not allowed to use this app.');
    },
  };
}
