// RFC 9449 §4.3 step 9: `htu` against the request's URL, query and fragment ignored, after RFC 3986 §6.2.2–6.2.3 normalisation.

/**
 * The URL a proof must name for a request: `PUBLIC_URL` followed by the path the server
 * received, without query or fragment. The server's own view of its address (the Host
 * header, X-Forwarded-*) plays no part: behind a proxy, clients reach PUBLIC_URL, and a
 * header anyone can set must not decide what a signed URL has to say.
 */
export function expectedHtu(publicUrl: string, target: string): string {
  const end = target.search(/[?#]/);
  return publicUrl + (end === -1 ? target : target.slice(0, end));
}

/** Whether a proof's `htu` names `expected`: equal as sent (the usual case, no parsing), else equal once both are normalised. */
export function sameHtu(htu: string, expected: string): boolean {
  if (htu === expected) return true;
  const normal = normalise(htu);
  return normal !== null && normal === normalise(expected);
}

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/**
 * Syntax- and scheme-based normalisation of an http(s) URL, query and fragment dropped. The
 * WHATWG URL parser lower-cases scheme and host, drops the default port, removes dot
 * segments and makes an empty path `/`; what it leaves is percent-encoding, whose hex digits
 * are upper-cased here and whose unreserved characters are decoded (RFC 3986 §6.2.2.1–2).
 * A URL with user information is no request's target: null.
 */
export function normalise(uri: string): string | null {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return null;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password) return null;
  const path = url.pathname.replace(/%[0-9A-Fa-f]{2}/g, (escape) => {
    const char = String.fromCharCode(parseInt(escape.slice(1), 16));
    return UNRESERVED.test(char) ? char : escape.toUpperCase();
  });
  return url.origin + path;
}
