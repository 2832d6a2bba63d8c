import type { Request, Response } from 'express';
import type { Config } from '../config.ts';
import type { AppRecord, AppRepo } from '../storage/repos/apps.ts';
import type { AuthContext, TokenSource } from './auth-context.ts';
import type { BearerAuthenticator, Scheme } from './bearer-authenticator.ts';
import type { InvalidatingCache } from './invalidating-cache.ts';
import type { RateLimitResult } from './rate-limit.ts';
import type { ScopeRule } from './scopes.ts';
import { appAuthzCheck } from './steps/app-authz-check.ts';
import { appResolver } from './steps/app-resolver.ts';
import { bearerCheck } from './steps/bearer-check.ts';
import { callerMount } from './steps/caller-mount.ts';
import { editionCheck } from './steps/edition-check.ts';
import { scopeCheck } from './steps/scope-check.ts';
import { workspaceMembershipCheck } from './steps/workspace-membership-check.ts';
import type { GrantVerdicts } from './tenancy/external-grants.ts';

/** The caller a run is attributed to; a `user` field in a body never overrides it. */
export type Caller = { type: 'account'; accountId: string; email: string | null } | { type: 'end_user'; subject: string; issuer: string };

export interface RequestState {
  auth?: AuthContext;
  /** The source of the bearer, once the authenticator has taken it for one (a label of metrics and traces). */
  tokenSource?: TokenSource;
  /** The scheme the token came in: DPoP answers are challenged in DPoP. */
  scheme?: Scheme;
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
  /**
   * Returns a promise only when it waits for something (a store, the database). A step
   * that decides from memory returns nothing and the next runs at once: an await per
   * step is a promise and a microtask hop on every request (docs/performance.md).
   */
  run(req: Request, res: Response): void | Promise<void>;
}

export interface PipelineDeps {
  config: Config;
  authenticator: BearerAuthenticator;
  apps: AppRepo;
  appCache: InvalidatingCache<AppRecord>;
  grantVerdicts: GrantVerdicts;
}

/** How a route is guarded: the route table's `guard` and `scope`, and the spec's `x-tessera-edition`. */
export interface Guard {
  guard: 'public' | 'bearer' | 'app';
  scope?: ScopeRule;
  /** Enterprise-only routes answer 404 in the community edition, before any limit. */
  edition?: 'enterprise';
}

/**
 * The request pipeline, in order, for one route (docs/tokens.md):
 *
 *   EditionCheck (enterprise-only routes)
 *   → BearerCheck (identity and the per-token rate limit, whatever the token source)
 *   → ScopeCheck (wrong_subject, then insufficient_scope)
 *   → AppResolver → WorkspaceMembershipCheck (tenancy per subject kind) → AppAuthzCheck → CallerMount (app routes)
 */
export function pipelineFor(d: PipelineDeps, route: Guard): readonly Step[] {
  if (route.guard === 'public') return [];
  const steps: Step[] = [];
  if (route.edition === 'enterprise') steps.push(editionCheck(d.config));
  steps.push(bearerCheck(d.authenticator), scopeCheck(route.scope ?? null));
  if (route.guard === 'app') steps.push(appResolver(d), workspaceMembershipCheck(d), appAuthzCheck(), callerMount());
  return buildPipeline(steps);
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
