import ipaddr from 'ipaddr.js';

/** Longest key kept for an address that is not an IP (a proxy's odd X-Forwarded-For entry). */
const MAX_OTHER = 100;

/**
 * The key a per-client-address limit counts under. An IPv6 client is its /64: that is
 * what one home, phone or server gets (RFC 6177, and SLAAC needs a /64), and any host in
 * it can pick a fresh source address per request, so counting full addresses would let
 * it rotate past every limit. An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, what a
 * dual-stack socket reports) is its IPv4 address, and IPv4 is counted as is; both come
 * out in dotted form, so the two spellings of one client share a window. Anything else
 * (no address, not an IP) is its own key.
 *
 * Every per-IP limiter goes through here: device-code issuance and lookups (and SSO
 * starts, which count as lookups), console sign-in, and the invalid-JWT bound.
 */
export function clientKey(address: string | undefined): string {
  if (!address) return 'unknown';
  let parsed;
  try {
    parsed = ipaddr.process(address);
  } catch {
    return address.slice(0, MAX_OTHER);
  }
  if (!(parsed instanceof ipaddr.IPv6)) return parsed.toString();
  const prefix = parsed.parts.slice(0, 4).map((group) => group.toString(16));
  return `${prefix.join(':')}::/64`;
}
