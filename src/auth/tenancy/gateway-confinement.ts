import type { TenancyStrategy } from './tenancy.ts';

/**
 * Gateway service accounts (JWTs from a customer's gateway): the gateway owns tenant
 * isolation, so membership is not asked; the caller is confined to the one workspace its
 * token names (`workspaceConfinement`), and any other workspace's app is not found.
 * A context without a confinement reaches nothing.
 */
export function gatewayConfinement(): TenancyStrategy {
  return {
    admits(auth, app) {
      return auth.workspaceConfinement !== null && auth.workspaceConfinement === app.workspace_id;
    },
  };
}
