// RFC 8628 §3.1 (Device Authorization Request) and §3.2 (Device Authorization Response).
import type { RequestHandler } from 'express';
import { z } from 'zod';
import { deviceFlowFor } from '../device-flow/device-flow-service.ts';
import type { Services } from '../services.ts';
import { refuseClientAuthentication, requireKnownClient } from './client.ts';
import { InvalidRequest, InvalidScope, TooManyRequests } from './errors.ts';
import { readParams } from './params.ts';

const GRANTABLE = ['full', 'apps:read', 'apps:run'];

const params = z.object({
  client_id: z.string().max(200).optional(),
  scope: z.string().max(200).optional(),
  device_label: z
    .string()
    .max(100, 'device_label is at most 100 characters')
    .regex(/^[^\p{Cc}]*$/u, 'device_label must be printable')
    .optional(),
});

export function deviceAuthorization(s: Services): RequestHandler {
  const flow = deviceFlowFor(s);
  return async (req, res) => {
    refuseClientAuthentication(req);
    const parsed = params.safeParse(readParams(req, true));
    if (!parsed.success) throw new InvalidRequest(parsed.error.issues[0]!.message);
    const p = parsed.data;
    const clientId = requireKnownClient(s, p.client_id);
    // Account tokens always carry `full` (docs/tokens.md); a requested scope must at least be one we know.
    const requested = (p.scope ?? '').split(' ').filter(Boolean);
    const unknown = requested.find((x) => !GRANTABLE.includes(x));
    if (unknown) throw new InvalidScope(`Unknown scope ${unknown}.`);
    const limit = await flow.hitIssuanceLimit(req.ip);
    if (!limit.allowed) throw new TooManyRequests(limit.retryAfterSeconds);

    const started = await flow.start(clientId, 'full', (p.device_label ?? '').trim() || 'default');
    const verificationUri = `${s.config.publicUrl}/device`;
    res.set('Cache-Control', 'no-store');
    res.json({
      device_code: started.deviceCode,
      user_code: started.userCode,
      verification_uri: verificationUri,
      verification_uri_complete: `${verificationUri}?user_code=${started.userCode}`,
      expires_in: started.expiresIn,
      interval: started.interval,
    });
  };
}
