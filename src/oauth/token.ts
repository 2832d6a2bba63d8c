// RFC 6749 §3.2 and §5 (token endpoint): the RFC 8628 device_code grant and the §6 refresh_token grant; RFC 9449 §5 (DPoP).
import type { RequestHandler } from 'express';
import type { Services } from '../services.ts';
import { refuseClientAuthentication, requireKnownClient } from './client.ts';
import { tokenRequestProof } from './dpop-proof.ts';
import { InvalidRequest, UnsupportedGrantType } from './errors.ts';
import { DEVICE_CODE_GRANT, deviceCodeGrant } from './grants/device-code.ts';
import { REFRESH_TOKEN_GRANT, refreshTokenGrant } from './grants/refresh-token.ts';
import type { Grant } from './grants/token-response.ts';
import { readParams } from './params.ts';

/** The grant types this server supports: refresh_token only with refresh tokens on (OAUTH_REFRESH_TOKENS). */
export function grantsOf(s: Services): ReadonlyMap<string, Grant> {
  const grants = new Map<string, Grant>([[DEVICE_CODE_GRANT, deviceCodeGrant]]);
  if (s.config.refreshTokens) grants.set(REFRESH_TOKEN_GRANT, refreshTokenGrant);
  return grants;
}

export function token(s: Services): RequestHandler {
  const grants = grantsOf(s);
  return async (req, res) => {
    refuseClientAuthentication(req);
    const params = readParams(req, true);
    if (!params.grant_type) throw new InvalidRequest('grant_type is required.');
    const clientId = requireKnownClient(s, params.client_id);
    const grant = grants.get(params.grant_type);
    if (!grant) throw new UnsupportedGrantType(`Supported grant types: ${[...grants.keys()].join(', ')}.`);
    const dpopJkt = await tokenRequestProof(s, req);
    const body = await grant(s, { params, clientId, dpopJkt, requestId: req.id as string | undefined, clientAddress: req.ip });
    res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
    res.json(body);
  };
}
