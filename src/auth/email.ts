/**
 * An email address as an IdP's claim carries it, in the one form grants, device sessions
 * and `tse_` tokens are keyed by: trimmed, lower-case, one `@` with no whitespace, at most
 * 320 characters. Federated JWTs and the SSO branch of the device flow read it alike, so
 * one person's address never becomes two subjects (or a padded one nobody granted).
 * Null when the value is not such an address.
 */
export function emailFromClaim(value: unknown): string | null {
  if (typeof value !== 'string' || value.length > 320) return null;
  const email = value.trim();
  return /^[^\s@]+@[^\s@]+$/.test(email) ? email.toLowerCase() : null;
}
