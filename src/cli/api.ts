import createClient from 'openapi-fetch';
import type { paths } from '../../generated/openapi.ts';
import { CliError, EXIT, needLogin, network } from './errors.ts';

export type ApiClient = ReturnType<typeof createClient<paths>>;

export function apiClient(host: string, token: string): ApiClient {
  return createClient<paths>({ baseUrl: `${host}/openapi/v1`, headers: { Authorization: `Bearer ${token}` } });
}

interface ApiErrorBody {
  error?: string;
  message?: string;
}

/** Turns a failed API answer into one readable line with the server's error code. */
export function apiError(host: string, status: number, body: unknown): CliError {
  const { error, message } = (typeof body === 'object' && body !== null ? body : {}) as ApiErrorBody;
  if (status === 401) {
    const why = error === 'token_expired' ? `Your login for ${host} has expired.` : `Your login for ${host} is not valid (${error ?? 'unauthorized'}).`;
    return needLogin(host, why);
  }
  return new CliError(EXIT.api, `Error ${status}${error ? ` ${error}` : ''}: ${message ?? 'the server gave no details.'}`);
}

/** Awaits an openapi-fetch call: data on success, a CliError otherwise (network errors exit 4; an abort keeps its reason). */
export async function call<T>(host: string, request: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let result;
  try {
    result = await request;
  } catch (err) {
    throw err instanceof CliError ? err : network(host, err);
  }
  if (!result.response.ok) throw apiError(host, result.response.status, result.error);
  return result.data as T;
}
