import { ApiError } from '../../errors.ts';
import { putHeader } from '../../http/held-headers.ts';
import type { BearerAuthenticator } from '../bearer-authenticator.ts';
import type { Step } from '../pipeline.ts';
import { setRateLimitHeaders } from '../rate-limit.ts';

/** Identity and the per-token rate limit, from the one authenticator, whichever token source it is. */
export function bearerCheck(authenticator: BearerAuthenticator): Step {
  return {
    name: 'BearerCheck',
    needs: [],
    provides: ['auth'],
    async run(req, res) {
      try {
        const { auth, rate, scheme } = await authenticator.authenticate(req.headers.authorization, req);
        req.tessera.auth = auth;
        req.tessera.scheme = scheme;
        req.tessera.rate = rate;
        setRateLimitHeaders(res, rate);
      } catch (err) {
        if (err instanceof ApiError && err.extra.headers) for (const [name, value] of Object.entries(err.extra.headers)) putHeader(res, name, value);
        throw err;
      }
    },
  };
}
