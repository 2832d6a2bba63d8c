import type { OperationId } from './operations.ts';

/**
 * The names of the routes that are not spec operations: one per hand-written RFC endpoint,
 * console API route and page, keyed by method and full path as declared. A request's route
 * name (published on the `tessera.request` tracing channel, docs/http.md) is its spec
 * operation's operationId, one of these, or `other`. Declaring a route that is missing here
 * is a start-up error, so every route has a name and the set of names stays small and fixed
 * (metric labels are made from them).
 */
const FIXED = {
  'GET /.well-known/oauth-authorization-server': 'oauth_metadata',
  'POST /openapi/v1/oauth/device/code': 'oauth_device_authorization',
  'POST /openapi/v1/oauth/token': 'oauth_token',
  'POST /openapi/v1/oauth/revoke': 'oauth_revocation',
  'GET /openapi/v1/oauth/device/lookup': 'oauth_device_lookup',
  'POST /openapi/v1/oauth/device/approve': 'oauth_device_approve',
  'POST /openapi/v1/oauth/device/deny': 'oauth_device_deny',
  'GET /openapi/v1/oauth/device/sso-initiate': 'oauth_sso_initiate',
  'GET /openapi/v1/oauth/device/approval-context': 'oauth_approval_context',
  'POST /openapi/v1/oauth/device/approve-external': 'oauth_device_approve_external',
  'POST /openapi/v1/oauth/device/deny-external': 'oauth_device_deny_external',
  'POST /openapi/v1/oauth/sso/backchannel-logout': 'oauth_backchannel_logout',
  'GET /openapi/v1/openapi.yaml': 'openapi_yaml',
  'GET /openapi/v1/openapi.json': 'openapi_json',
  'POST /console/api/signin': 'console_signin',
  'GET /console/api/session': 'console_session',
  'POST /console/api/signout': 'console_signout',
  'GET /console/api/devices': 'console_list_devices',
  'DELETE /console/api/devices': 'console_revoke_all_devices',
  'DELETE /console/api/devices/:id': 'console_revoke_device',
  'GET /console/api/api-keys': 'console_list_api_keys',
  'POST /console/api/api-keys': 'console_create_api_key',
  'DELETE /console/api/api-keys/:id': 'console_revoke_api_key',
  'GET /': 'home_page',
  'GET /account': 'account_page',
  'GET /signin': 'signin_page',
  'GET /device': 'device_page',
  'GET /device/sso-complete': 'sso_complete_page',
  'GET /docs': 'docs_page',
  'GET /docs/device-flow': 'device_guide_page',
  'GET /assets/:name': 'page_asset',
  'GET /favicon.ico': 'favicon',
} as const;

export type FixedRouteName = (typeof FIXED)[keyof typeof FIXED];
/** What a request is counted and traced under. */
export type RouteName = OperationId | FixedRouteName | typeof OTHER;

/** Every request no declared route serves for its method: 404s, 405s, OPTIONS, CORS preflights, malformed paths. */
export const OTHER = 'other';

/** The fixed name of a declared route (`method` in any case, `path` in full, as declared); throws for a route without one. */
export function fixedRouteName(method: string, path: string): FixedRouteName {
  const key = `${method.toUpperCase()} ${path}`;
  const name = (FIXED as Record<string, FixedRouteName>)[key];
  if (!name) throw new Error(`the route ${key} has no name in src/http/route-names.ts`);
  return name;
}
