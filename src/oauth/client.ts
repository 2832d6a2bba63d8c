// RFC 6749 §2.3 (client authentication) and §5.2 (invalid_client).
import type { Request } from 'express';
import type { Services } from '../services.ts';
import { InvalidClient, InvalidRequest } from './errors.ts';

const TOKEN68_SCHEME = /^([!#$%&'*+.^_`|~0-9A-Za-z-]{1,32})(?:[ \t]|$)/;

/** Public clients only (token_endpoint_auth_method "none"): a known client_id is all there is. */
export function requireKnownClient(s: Services, clientId: string | undefined): string {
  if (!clientId) throw new InvalidRequest('client_id is required.');
  if (!s.config.knownClientIds.includes(clientId)) throw new InvalidClient();
  return clientId;
}

/**
 * Our clients are public, so no client authentication can succeed. A client that tries
 * it through the Authorization header (`Basic` with a secret, say) gets 401
 * invalid_client and a challenge in the scheme it used (§5.2), rather than being
 * silently treated as public.
 */
export function refuseClientAuthentication(req: Request): void {
  const header = req.headers.authorization;
  if (header === undefined) return;
  const scheme = TOKEN68_SCHEME.exec(header)?.[1] ?? 'Basic';
  throw new InvalidClient('Clients of this server are public: send client_id in the body and no Authorization header.', `${scheme} realm="tessera"`);
}
