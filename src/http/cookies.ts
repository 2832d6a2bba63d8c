import { parse } from 'cookie';

/**
 * The name a cookie of ours has on this origin. On https it carries a prefix the browser
 * enforces: `__Host-` (Secure, Path=/, no Domain) can be set only by this exact host,
 * so a sibling subdomain cannot plant or shadow it; `__Secure-` (for cookies scoped to a
 * path, which `__Host-` does not allow) can be set only by an https page. On http a
 * browser refuses both prefixes, so the plain name stays.
 */
export function cookieName(base: string, secure: boolean, prefix: '__Host-' | '__Secure-'): string {
  return secure ? `${prefix}${base}` : base;
}

/**
 * The value of cookie `name` in a Cookie header, or undefined when it is absent or sent
 * more than once. Two cookies of one name mean another origin (a sibling subdomain, or a
 * path-scoped cookie) planted one next to ours, and we cannot tell which is which, so
 * neither is used.
 */
export function singleCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  let seen = 0;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq !== -1 && pair.slice(0, eq).trim() === name) seen++;
  }
  return seen === 1 ? parse(header)[name] : undefined;
}
