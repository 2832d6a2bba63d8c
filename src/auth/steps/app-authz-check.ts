import { forbidden } from '../../errors.ts';
import type { RequestState, Step } from '../pipeline.ts';

/**
 * The app must be enabled for API use, and its access mode must admit the caller:
 * `workspace` every member, `members` the listed ones, `external` members and the
 * external subjects it is granted to (whose grant WorkspaceMembershipCheck has checked).
 */
export function appAuthzCheck(): Step {
  return {
    name: 'AppAuthzCheck',
    needs: ['auth', 'app'],
    provides: [],
    async run(req) {
      const { auth, app } = req.tessera as Required<RequestState>;
      if (!app.enable_api) throw forbidden('This app is not enabled for API access.');
      if (auth.subjectKind !== 'account') return;
      if (app.access_mode === 'members' && !app.member_ids.includes(auth.accountId!)) throw forbidden('You are not allowed to use this app.');
    },
  };
}
