import { CONNECT_TIMEOUT_MS } from './http.ts';

/** Exit codes of `tessera` (documented in docs/cli.md). */
export const EXIT = { ok: 0, usage: 1, auth: 2, api: 3, network: 4 } as const;

/**
 * An error the CLI shows as one line (`tessera: …`) and turns into an exit code; never
 * a stack trace. `hint` follows on its own lines and names the fix, as a command the
 * user can type.
 */
export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export const usage = (message: string, hint?: string) => new CliError(EXIT.usage, message, hint);

/** Connection-level failure: the server never answered. */
export const network = (host: string, err: unknown) => {
  const code = networkCode(err);
  const hint =
    code === 'ENOTFOUND' || code === 'EAI_AGAIN'
      ? `Is the host name in ${host} right?`
      : `Is the server running at ${host}?`;
  const detail = isConnectTimeout(err) ? `ETIMEDOUT (no answer within ${CONNECT_TIMEOUT_MS / 1000} s)` : code;
  return new CliError(EXIT.network, `Could not reach ${host}: ${detail}`, hint);
};

const causeOf = (err: unknown) => (err as { cause?: { code?: string; message?: string } })?.cause;

/** undici's own code for a connect that took longer than CONNECT_TIMEOUT_MS (a host that drops packets). */
export const isConnectTimeout = (err: unknown) => causeOf(err)?.code === 'UND_ERR_CONNECT_TIMEOUT';

/** The system's error code (ECONNREFUSED, ENOTFOUND, …); a connect timeout is ETIMEDOUT, as the kernel names it. */
export function networkCode(err: unknown): string {
  if (isConnectTimeout(err)) return 'ETIMEDOUT';
  const cause = causeOf(err);
  return cause?.code ?? cause?.message ?? (err as Error)?.message ?? String(err);
}
