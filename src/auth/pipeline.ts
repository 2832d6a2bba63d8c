import type { Request, Response } from 'express';
import type { Config } from '../config.ts';
import { ApiError, forbidden, notFound } from '../errors.ts';
import type { AppRecord, AppRepo } from '../storage/repos/apps.ts';
import type { AuthContext, BearerAuthenticator } from './bearer-authenticator.ts';
import type { InvalidatingCache } from './invalidating-cache.ts';
import { rateLimitHeaders, type RateLimitResult } from './rate-limit.ts';
import { hasScope, type Scope } from './scopes.ts';

/** The caller a run is attributed to; a `user` field in a body never overrides it. */
export type Caller = { type: 'account'; accountId: string; email: string | null } | { type: 'end_user'; subject: string; issuer: string };

export interface RequestState {
  auth?: AuthContext;
  rate?: RateLimitResult;
  app?: AppRecord;
  caller?: Caller;
}

declare module 'express-serve-static-core' {
  interface Request {
    tessera: RequestState;
  }
}

type Fact = 'auth' | 'app' | 'caller';

export interface Step {
  readonly name: string;
  readonly needs: readonly Fact[];
  readonly provides: readonly Fact[];
  run(req: Request, res: Response): Promise<void>;
}

/**
 * Orders are checked when routes are mounted, so a scope or app check without
 * authentication above it fails at start, never at request time.
 */
export function buildPipeline(steps: readonly Step[]): readonly Step[] {
  const known = new Set<Fact>();
  for (const step of steps) {
    for (const need of step.needs) {
      if (!known.has(need)) throw new Error(`pipeline: ${step.name} needs ${need}, which no earlier step provides`);
    }
    for (const fact of step.provides) known.add(fact);
  }
  return steps;
}

export interface PipelineDeps {
  config: Config;
  authenticator: BearerAuthenticator;
  apps: AppRepo;
  appCache: InvalidatingCache<AppRecord>;
}

export function bearerCheck(d: PipelineDeps): Step {
  return {
    name: 'BearerCheck',
    needs: [],
    provides: ['auth'],
    async run(req, res) {
      try {
        const { auth, rate } = await d.authenticator.authenticate(req.get('authorization'));
        req.tessera.auth = auth;
        req.tessera.rate = rate;
        res.set(rateLimitHeaders(rate));
      } catch (err) {
        if (err instanceof ApiError && err.extra.headers) res.set(err.extra.headers);
        throw err;
      }
    },
  };
}

export function scopeCheck(scope: Scope): Step {
  return {
    name: 'ScopeCheck',
    needs: ['auth'],
    provides: [],
    async run(req) {
      if (hasScope(req.tessera.auth!.scopes, scope)) return;
      throw new ApiError(403, 'insufficient_scope', `This route needs the ${scope} scope.`, {
        headers: { 'WWW-Authenticate': `Bearer realm="tessera", error="insufficient_scope", scope="${scope}"` },
      });
    },
  };
}

export function appResolver(d: PipelineDeps): Step {
  return {
    name: 'AppResolver',
    needs: ['auth'],
    provides: ['app'],
    async run(req) {
      const id = String(req.params.app_id ?? '');
      let app = d.appCache.get(id);
      if (!app) {
        app = await d.apps.findById(id);
        if (!app) throw notFound('App');
        d.appCache.set(id, app);
      }
      req.tessera.app = app;
    },
  };
}

export function workspaceMembershipCheck(d: PipelineDeps): Step {
  return {
    name: 'WorkspaceMembershipCheck',
    needs: ['auth', 'app'],
    provides: [],
    async run(req) {
      // In the enterprise edition the gateway owns tenant isolation.
      if (d.config.edition === 'enterprise') return;
      const { auth, app } = req.tessera as Required<RequestState>;
      const ws = app.workspace_id;
      let member = auth.verifiedTenants[ws];
      if (member === undefined) {
        member = auth.accountId !== null && (await d.apps.isMember(auth.accountId, ws));
        auth.verifiedTenants[ws] = member;
      }
      // 404, not 403: a non-member must not learn that the app exists.
      if (!member) throw notFound('App');
    },
  };
}

export function appAuthzCheck(): Step {
  return {
    name: 'AppAuthzCheck',
    needs: ['auth', 'app'],
    provides: [],
    async run(req) {
      const { auth, app } = req.tessera as Required<RequestState>;
      if (!app.enable_api) throw forbidden('This app is not enabled for API access.');
      const isAccount = auth.accountId !== null;
      const allowed =
        app.access_mode === 'workspace'
          ? isAccount
          : app.access_mode === 'members'
            ? isAccount && app.member_ids.includes(auth.accountId!)
            : true;
      if (!allowed) throw forbidden('You are not allowed to use this app.');
    },
  };
}

export function callerMount(): Step {
  return {
    name: 'CallerMount',
    needs: ['auth', 'app'],
    provides: ['caller'],
    async run(req) {
      const { auth } = req.tessera as Required<RequestState>;
      req.tessera.caller =
        auth.accountId !== null
          ? { type: 'account', accountId: auth.accountId, email: auth.principal.email }
          : { type: 'end_user', subject: auth.principal.sub, issuer: auth.principal.subject_issuer };
    },
  };
}

/** The full app pipeline, in order (docs/tokens.md). */
export function appPipeline(d: PipelineDeps, scope: Scope): readonly Step[] {
  return buildPipeline([bearerCheck(d), scopeCheck(scope), appResolver(d), workspaceMembershipCheck(d), appAuthzCheck(), callerMount()]);
}

/** Routes without an app in the path: the same authenticator and scope core. */
export function bearerPipeline(d: PipelineDeps, scope: Scope | null): readonly Step[] {
  return buildPipeline(scope === null ? [bearerCheck(d)] : [bearerCheck(d), scopeCheck(scope)]);
}
