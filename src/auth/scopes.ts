export const SCOPES = ['full', 'apps:read', 'apps:run', 'apps:read:permitted'] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

/** `full` satisfies every check; otherwise the exact scope is needed. */
export function hasScope(granted: readonly Scope[], needed: Scope): boolean {
  return granted.includes('full') || granted.includes(needed);
}
