// RFC 8628 §3.4 (Device Access Token Request) and §3.5 (Device Access Token Response).
import { deviceFlowFor, ExternalApprovalRefused } from '../../device-flow/device-flow-service.ts';
import type { AuditOrigin } from '../../observability/audit-catalog.ts';
import { METRICS } from '../../observability/metric-catalog.ts';
import { count } from '../../observability/metrics.ts';
import type { Services } from '../../services.ts';
import { AlreadyCollected } from '../../storage/repos/device-grants.ts';
import { AccountDisabled } from '../../auth/token-service.ts';
import { AccessDenied, AuthorizationPending, ExpiredToken, InvalidGrant, InvalidRequest, SlowDown } from '../errors.ts';
import { tokenResponse, type TokenRequest, type TokenResponse } from './token-response.ts';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/**
 * One poll. The store script decides atomically (Postgres answers for a code the
 * store has lost); the token is minted only now (no plain token is ever stored), in
 * the transaction that marks the code collected, and, if minting fails, the approval
 * is handed back so the next poll retries.
 */
export async function deviceCodeGrant(s: Services, { params, clientId, dpopJkt, requestId, clientAddress }: TokenRequest): Promise<TokenResponse> {
  const origin: AuditOrigin = { request_id: requestId, client_address: clientAddress };
  const deviceCode = params.device_code;
  if (!deviceCode) throw new InvalidRequest('device_code is required.');
  if (deviceCode.length > 200) throw new InvalidGrant();
  const flow = deviceFlowFor(s);
  const result = await flow.poll(deviceCode, clientId);
  switch (result.r) {
    case 'pending':
      throw new AuthorizationPending();
    case 'slow_down':
      throw new SlowDown(result.interval);
    case 'denied':
      throw new AccessDenied();
    case 'expired':
      // Counted when a poll finds it: a code nobody polls again is never seen to expire.
      count(METRICS.deviceFlowEvents, { branch: 'account', event: 'expired' });
      throw new ExpiredToken();
    case 'invalid':
      throw new InvalidGrant();
    case 'replay':
      return replayed(s, { deviceCode, clientId, tokenId: result.token_id, inGrace: result.in_grace }, origin);
    case 'approved': {
      let minted;
      let scope: string;
      try {
        ({ minted, scope } = await flow.collect(deviceCode, clientId, result, dpopJkt, origin));
      } catch (err) {
        if (err instanceof AlreadyCollected) {
          // The store still had the approval, but the code was collected (the store lost the
          // collection, or restored an older snapshot): settle the store, then treat it as a repeat.
          if (err.tokenId) await flow.collected(deviceCode, err.tokenId, result.expires_at_ms, err.collectedAtMs).catch(() => undefined);
          return replayed(s, { deviceCode, clientId, tokenId: err.tokenId, inGrace: err.inGrace }, origin);
        }
        await flow.release(deviceCode).catch(() => undefined);
        // An SSO approval on a community server: the grant cannot be honoured here (RFC 6749
        // §5.2, invalid_grant), and the CLI shows this description. The approval is left as it
        // was, so nothing is minted now and nothing is lost if the enterprise edition returns.
        if (err instanceof ExternalApprovalRefused) {
          throw new InvalidGrant('This login was approved through single sign-on, which needs the enterprise edition; this server runs the community edition.');
        }
        // The account was disabled after it approved (`admin disable-account`): nothing is minted.
        if (err instanceof AccountDisabled) throw new InvalidGrant('This account is disabled.');
        throw err;
      }
      // The token is committed: a store that fails now must not cost the client its answer
      // (the grant row already says collected, and the lease lapses).
      await flow.collected(deviceCode, minted.id, result.expires_at_ms).catch(() => undefined);
      count(METRICS.deviceFlowEvents, { branch: result.account_id ? 'account' : 'sso', event: 'collected' });
      return tokenResponse(minted, scope);
    }
  }
}

/**
 * A code polled again after it was collected. Within the grace window it is a racing or
 * retried poll (the answer may have been lost on the way): refused, nothing revoked.
 * Later it is a replay (RFC 6749 §4.1.2 spirit: a code used twice may be stolen), and
 * the token it produced is revoked.
 */
async function replayed(s: Services, r: { deviceCode: string; clientId: string; tokenId: string | null; inGrace: boolean }, origin: AuditOrigin): Promise<never> {
  if (r.inGrace || !r.tokenId) throw new InvalidGrant('The device code was already used.');
  const branch = await deviceFlowFor(s).branchOf(r.deviceCode);
  count(METRICS.deviceFlowEvents, { branch, event: 'replayed' });
  s.audit('oauth.device_code_replayed', { token_id: r.tokenId, client_id: r.clientId, branch, ...origin });
  await s.tokens.revokeTokenId(r.tokenId, 'device_code_replayed', origin);
  throw new InvalidGrant('The device code was already used; the token it produced has been revoked.');
}
