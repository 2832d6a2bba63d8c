import { Agent, fetch as undiciFetch, Request as UndiciRequest } from 'undici';

/**
 * How long the CLI waits for a connection to a host (name lookup, TCP and TLS). A
 * server that is down refuses at once; a host that drops packets would otherwise hold
 * the user for the HTTP client's 10 s default before "is the server running at …?".
 * 2.5 s, so that with the CLI's own start (about half a second) the question comes in
 * about 3 s; still ample for a name lookup and a TLS handshake over a slow link.
 * Once connected, nothing is cut short: waiting for an answer and reading a stream
 * keep undici's defaults (300 s between bytes), and a stream's pings arrive every 10 s.
 */
export const CONNECT_TIMEOUT_MS = 2_500;

const dispatcher = new Agent({ connect: { timeout: CONNECT_TIMEOUT_MS } });

/**
 * `fetch` for every CLI request, with the bounded connect. It is undici's own fetch
 * with undici's own Agent (and, for openapi-fetch, its Request class), rather than
 * Node's built-in fetch handed an Agent from another copy of undici: one library end
 * to end, whatever undici version Node bundles.
 */
export const cliFetch: typeof globalThis.fetch = (input, init) =>
  undiciFetch(input as Parameters<typeof undiciFetch>[0], { ...(init as Parameters<typeof undiciFetch>[1]), dispatcher }) as unknown as Promise<Response>;

/** The Request class that goes with `cliFetch` (openapi-fetch builds a Request before it fetches). */
export const CliRequest = UndiciRequest as unknown as typeof globalThis.Request;
