import createClient from 'openapi-fetch';
import type { paths } from '../../generated/openapi.ts';
import { CliError, EXIT, network } from './errors.ts';
import { CliRequest, cliFetch } from './http.ts';
import type { CliContext, TokenSource } from './session.ts';

export type ApiClient = ReturnType<typeof createClient<paths>>;

export function apiClient(host: string, token?: string): ApiClient {
  return createClient<paths>({
    baseUrl: `${host}/openapi/v1`,
    headers: token ? { Authorization: `Bearer ${token}` } : {},
    fetch: cliFetch,
    Request: CliRequest,
  });
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
