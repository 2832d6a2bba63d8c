import { VERSION } from '../../version.ts';
import { apiClient } from '../api.ts';
import { CliError, networkCode } from '../errors.ts';
import type { CliContext } from '../session.ts';
import { terminalLine } from '../term.ts';

const HEALTH_TIMEOUT_MS = 3_000;

/**
 * The CLI's version, and the server's (from `GET /_health`, which needs no token) when
 * there is a server to ask: one named with --host or TESSERA_HOST, or the host of a
 * stored login or TESSERA_TOKEN. A server that does not answer is reported, and the
 * command still succeeds: the CLI's own version is what was asked for.
 */
export async function version(ctx: CliContext): Promise<void> {
  let host: string;
  try {
    host = await ctx.host();
  } catch (err) {
    // A host that cannot be used (no scheme) must not hide the CLI's own version; the fix is still shown.
    if (!(err instanceof CliError)) throw err;
    ctx.print(`tessera ${VERSION}`, { cli: VERSION, server: null });
    process.stderr.write(`Server version not checked: ${err.message}\n${err.hint ? `${err.hint}\n` : ''}`);
    return;
  }
  const named = Boolean(ctx.opts.host || process.env.TESSERA_HOST || process.env.TESSERA_TOKEN);
  if (!named && !(await ctx.login(host))) {
    ctx.print(`tessera ${VERSION}`, { cli: VERSION, server: null });
    return;
  }
  let server: { host: string; version: string | null; error: string | null };
  try {
    const { data, error, response } = await apiClient(host).GET('/_health', { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) });
    // A 503 still carries the version: the server answers while a dependency is down.
    const body = data ?? (error as { version?: string } | undefined);
    server = body?.version ? { host, version: body.version, error: null } : { host, version: null, error: `http_${response.status}` };
  } catch (err) {
    server = { host, version: null, error: (err as Error)?.name === 'TimeoutError' ? 'timeout' : networkCode(err) };
  }
  const serverLine = server.version ? `server ${terminalLine(server.version)} at ${host}` : `server at ${host}: unknown (${terminalLine(server.error ?? '')})`;
  ctx.print(`tessera ${VERSION}\n${serverLine}`, { cli: VERSION, server });
}
