/** Exit codes of `tessera` (documented in docs/cli.md). */
export const EXIT = { ok: 0, usage: 1, auth: 2, api: 3, network: 4 } as const;

/** An error the CLI shows as one line and turns into an exit code; never a stack trace. */
export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

export const usage = (message: string) => new CliError(EXIT.usage, message);
export const needLogin = (host: string, why = `Not logged in to ${host}.`) => new CliError(EXIT.auth, `${why} Run \`tessera login\`.`);
export const network = (host: string, err: unknown) =>
  new CliError(EXIT.network, `Could not reach ${host}: ${describeNetworkError(err)}`);

function describeNetworkError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (err as Error)?.message ?? String(err);
}
