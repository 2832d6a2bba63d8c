import type { SubjectKind } from './auth-context.ts';

export const SCOPES = ['full', 'apps:read', 'apps:run', 'apps:read:permitted'] as const;
export type Scope = (typeof SCOPES)[number];

/**
 * What a route needs: one scope (null: any valid token) whoever calls, or a scope per
 * subject kind. A subject kind a rule does not list gets 403 `wrong_subject`.
 */
export type ScopeRule = Scope | null | { readonly [K in SubjectKind]?: Scope | null };

/** Account routes (`/apps`, `/workspaces`, `/me/api-keys`): external subjects get 403 wrong_subject. */
export const accountsOnly = (scope: Scope): ScopeRule => ({ account: scope });

/** Reading one app or its history: external subjects read the apps granted to them with `apps:read:permitted`. */
export const READ_APP: ScopeRule = { account: 'apps:read', external: 'apps:read:permitted', gateway: 'apps:read' };

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

/** `full` satisfies every check; otherwise the exact scope is needed. */
export function hasScope(granted: readonly Scope[], needed: Scope): boolean {
  return granted.includes('full') || granted.includes(needed);
}

/** The scope a rule asks of this subject kind: a Scope, null (none), or undefined (this kind may not call). */
export function scopeFor(rule: ScopeRule, subject: SubjectKind): Scope | null | undefined {
  if (rule === null || typeof rule === 'string') return rule;
  return subject in rule ? (rule[subject] ?? null) : undefined;
}
