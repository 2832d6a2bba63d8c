import type { Services } from '../services.ts';
import { InvalidClient, InvalidRequest } from './errors.ts';

/** Public clients only (token_endpoint_auth_method "none"): a known client_id is all there is. */
export function requireKnownClient(s: Services, clientId: string | undefined): string {
  if (!clientId) throw new InvalidRequest('client_id is required.');
  if (!s.config.knownClientIds.includes(clientId)) throw new InvalidClient();
  return clientId;
}
