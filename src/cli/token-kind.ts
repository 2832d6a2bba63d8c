/** The issuer the server reports for account subjects; anything else is an external (SSO) subject. */
export const ACCOUNT_ISSUER = 'tessera:account';

/** What a token is, read from its shape alone (the server's registry of prefixes, seen from the client). */
export type TokenKindName = 'tsa_' | 'tse_' | 'tsk_' | 'jwt' | 'unknown';

const LABELS: Record<TokenKindName, string> = {
  tsa_: 'tsa_ device login (account)',
  tse_: 'tse_ device login (single sign-on)',
  tsk_: 'tsk_ API key',
  jwt: 'JWT',
  unknown: 'token of an unknown kind',
};

export function tokenKind(token: string): TokenKindName {
  const prefix = token.slice(0, 4);
  if (prefix === 'tsa_' || prefix === 'tse_' || prefix === 'tsk_') return prefix;
  return token.split('.').length === 3 ? 'jwt' : 'unknown';
}

/** `tsa_ device login (account)`, `tsk_ API key`, …: the prefix first, as people see it in the token. */
export const describeKind = (kind: TokenKindName) => LABELS[kind];

/** External subjects (SSO logins, federated JWTs) see only the apps granted to them, through `/apps/permitted`. */
export const isExternal = (kind: TokenKindName) => kind === 'tse_';
