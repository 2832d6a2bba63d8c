// RFC 8414 §2–3: authorization server metadata (and RFC 9449 §5.1's DPoP algorithms).
import type { RequestHandler } from 'express';
import { DPOP_ALGORITHM_NAMES } from '../auth/dpop/policy.ts';
import { SCOPES } from '../auth/scopes.ts';
import type { Services } from '../services.ts';
import { grantsOf } from './token.ts';

export function metadata(s: Services): RequestHandler {
  const grantTypes = [...grantsOf(s).keys()];
  return (_req, res) => {
    const issuer = s.config.publicUrl;
    res.set('Cache-Control', 'public, max-age=300');
    res.json({
      issuer,
      device_authorization_endpoint: `${issuer}/openapi/v1/oauth/device/code`,
      token_endpoint: `${issuer}/openapi/v1/oauth/token`,
      revocation_endpoint: `${issuer}/openapi/v1/oauth/revoke`,
      grant_types_supported: grantTypes,
      token_endpoint_auth_methods_supported: ['none'],
      revocation_endpoint_auth_methods_supported: ['none'],
      scopes_supported: SCOPES.filter((x) => x !== 'apps:read:permitted'),
      response_types_supported: [],
      dpop_signing_alg_values_supported: DPOP_ALGORITHM_NAMES,
      service_documentation: `${issuer}/docs`,
    });
  };
}
