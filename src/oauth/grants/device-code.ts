// RFC 8628 §3.4 (Device Access Token Request) and §3.5 (Device Access Token Response).
import { kindByPrefix } from '../../auth/token-kinds.ts';
import { deviceFlowFor } from '../../device-flow/device-flow-service.ts';
import type { Services } from '../../services.ts';
import { AccessDenied, AuthorizationPending, ExpiredToken, InvalidGrant, InvalidRequest, SlowDown } from '../errors.ts';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
}

/**
 * One poll. The store script decides atomically; the token is minted only now (no
 * plain token is ever stored) and, if minting fails, the approval is handed back so
 * the next poll retries.
 */
export async function deviceCodeGrant(s: Services, params: Record<string, string>, clientId: string): Promise<TokenResponse> {
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
      throw new ExpiredToken();
    case 'invalid':
      throw new InvalidGrant();
    case 'replay':
      // RFC 6749 §4.1.2 spirit: a code used twice may be stolen; kill what it produced.
      await s.tokens.revokeTokenId(result.token_id, 'device_code_replayed');
      throw new InvalidGrant('The device code was already used; the token it produced has been revoked.');
    case 'approved': {
      let minted;
      let scope = result.scope;
      try {
        if (result.account_id) {
          minted = await s.tokens.mintAccountToken({ accountId: result.account_id, email: result.email, clientId, deviceLabel: result.device_label });
        } else {
          // Approved in the external-SSO branch: a tse_ token for the IdP's subject.
          const subject = await flow.externalSubject(deviceCode);
          if (!subject) throw new Error('external approval without its subject');
          minted = await s.tokens.mintExternalToken({ subject, clientId, deviceLabel: result.device_label });
          scope = kindByPrefix('tse_')!.scopes!.join(' ');
        }
      } catch (err) {
        await flow.release(deviceCode).catch(() => undefined);
        throw err;
      }
      await flow.collected(deviceCode, minted.id, result.expires_at_ms);
      return { access_token: minted.token, token_type: 'Bearer', expires_in: minted.expiresIn, scope };
    }
  }
}
