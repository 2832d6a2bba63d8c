import createClient from 'openapi-fetch';
import type { paths } from '../../generated/openapi.ts';
import type { DpopKey } from './dpop-key.ts';
import { CliError, EXIT, network } from './errors.ts';
import { CliRequest, cliFetch } from './http.ts';
import type { CliContext, TokenSource } from './session.ts';

export type ApiClient = ReturnType<typeof createClient<paths>>;

/**
 * What a request carries: a token and, for a login bound to this machine's key (DPoP), the
 * key that signs a proof for every request. A stored device login can also renew its token
 * after a 401 (a refresh on `token_expired`, or the token another tessera process stored
 * meanwhile).
 */
export interface RenewableToken {
  token: string;
  key?: DpopKey | null;
  /** The token to retry with once, or null to let the 401 stand. */
  renew?(used: string, error: string | undefined): Promise<string | null>;
}

/** A client for the host's API: a plain string is sent as a Bearer token, as it is (TESSERA_TOKEN, an API key). */
export function apiClient(host: string, token?: string | RenewableToken): ApiClient {
  const presented = typeof token === 'object' ? token : null;
  return createClient<paths>({
    baseUrl: `${host}/openapi/v1`,
    headers: typeof token === 'string' ? { Authorization: `Bearer ${token}` } : {},
    fetch: presented ? authorizingFetch(presented) : cliFetch,
    Request: CliRequest,
  });
}

/**
 * Sends the current token (with a new proof for each request when the login is bound); after
 * a 401 a renewable login renews it once and sends the request again (the body was kept for that).
 */
function authorizingFetch(auth: RenewableToken): typeof globalThis.fetch {
  return async (input, init) => {
    const request = input as Request;
    const retry = auth.renew ? request.clone() : null;
    const used = auth.token;
    await authorize(request, used, auth.key);
    const res = await cliFetch(request, init);
    if (res.status !== 401 || !retry || !auth.renew) return res;
    const error = ((await res.clone().json().catch(() => null)) as { error?: string } | null)?.error;
    const next = await auth.renew(used, error);
    if (!next) return res;
    await res.body?.cancel().catch(() => undefined);
    auth.token = next;
    await authorize(retry, next, auth.key);
    return cliFetch(retry, init);
  };
}

/** RFC 6750 §2.1, or RFC 9449 §7.1 with a proof for this very request. */
async function authorize(request: Request, token: string, key: DpopKey | null | undefined): Promise<void> {
  if (!key) return void request.headers.set('Authorization', `Bearer ${token}`);
  request.headers.set('Authorization', `DPoP ${token}`);
  request.headers.set('DPoP', await key.proof(request.method, request.url, token));
}

interface ApiErrorBody {
  error?: string;
  message?: string;
  retry_after_ms?: number;
}

/** Where a request went and with which token, so an error can name the fix. */
export interface Caller {
  ctx: CliContext;
  host: string;
  source?: TokenSource;
}

/** Turns a failed API answer into one readable line with the server's error code, and a hint. */
export function apiError(caller: Caller, status: number, body: unknown): CliError {
  const { ctx, host, source } = caller;
  const { error, message, retry_after_ms } = (typeof body === 'object' && body !== null ? body : {}) as ApiErrorBody;
  if (status === 401) {
    const code = error ?? 'unauthorized';
    // A proof the server would not take (a clock far off, a host that is not the server's public URL): its words say what to fix.
    if (message?.startsWith('The DPoP proof')) return new CliError(EXIT.auth, `${host} refused this login's DPoP proof: ${message}`);
    if (source === 'env') {
      const why = error === 'token_expired' ? `The token in TESSERA_TOKEN has expired.` : `The token in TESSERA_TOKEN is not valid for ${host} (${code}).`;
      return new CliError(
        EXIT.auth,
        why,
        `TESSERA_TOKEN is the token in use: it overrides any stored login. Set it to a valid token, or unset it and run \`${ctx.cmd('login')}\`.`,
      );
    }
    if (source === 'stdin') {
      return new CliError(
        EXIT.auth,
        `${host} did not accept the token from standard input (${code}).`,
        `Pass a token for this server: an API key (tsk_) or a token from \`tessera-server admin mint-token\`.`,
      );
    }
    const why = error === 'token_expired' ? `Your login for ${host} has expired.` : `Your login for ${host} is not valid (${code}).`;
    return ctx.needLogin(host, why);
  }
  if (!error) {
    return new CliError(EXIT.api, `${host} answered ${status} without a Tessera error.`, `Is ${host} a Tessera server? Check --host or TESSERA_HOST.`);
  }
  const line = `Error ${status} ${error}: ${message ?? 'the server gave no details.'}`;
  if (status === 429 && retry_after_ms) return new CliError(EXIT.api, line, `Try again in ${Math.ceil(retry_after_ms / 1000)} s.`);
  return new CliError(EXIT.api, line);
}

/** Awaits an openapi-fetch call: data on success, a CliError otherwise (network errors exit 4; an abort keeps its reason). */
export async function call<T>(caller: Caller, request: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let result;
  try {
    result = await request;
  } catch (err) {
    throw err instanceof CliError ? err : network(caller.host, err);
  }
  if (!result.response.ok) throw apiError(caller, result.response.status, result.error);
  return result.data as T;
}
