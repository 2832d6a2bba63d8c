// RFC 6749 §3.2 and §5 (token endpoint), with the RFC 8628 device_code grant.
import type { RequestHandler } from 'express';
import type { Services } from '../services.ts';
import { refuseClientAuthentication, requireKnownClient } from './client.ts';
import { InvalidRequest, UnsupportedGrantType } from './errors.ts';
import { DEVICE_CODE_GRANT, deviceCodeGrant } from './grants/device-code.ts';
import { readParams } from './params.ts';

export function token(s: Services): RequestHandler {
  return async (req, res) => {
    refuseClientAuthentication(req);
    const params = readParams(req, true);
    if (!params.grant_type) throw new InvalidRequest('grant_type is required.');
    const clientId = requireKnownClient(s, params.client_id);
    if (params.grant_type !== DEVICE_CODE_GRANT) throw new UnsupportedGrantType();
    const body = await deviceCodeGrant(s, params, clientId);
    res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
    res.json(body);
  };
}
