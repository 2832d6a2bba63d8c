import { hostname } from 'node:os';
import type { components } from '../../../generated/openapi.ts';
import { apiClient, call } from '../api.ts';
import { canOpenBrowser, openBrowser } from '../browser.ts';
import { copyToClipboard } from '../clipboard.ts';
import { pollForToken, startDeviceFlow } from '../device-login.ts';
import { DpopKey } from '../dpop-key.ts';
import type { HostLogin } from '../hosts-file.ts';
import { isBound, loginFrom } from '../refresh.ts';
import { CliError, usage } from '../errors.ts';
import { confirm, onEnter, readStdin } from '../prompt.ts';
import type { CliContext } from '../session.ts';
import { Spinner } from '../spinner.ts';
import { err, interactive, out, terminalLine, terminalSafe, when } from '../term.ts';
import { describeKind, tokenKind } from '../token-kind.ts';
import { defaultWorkspace, type WorkspaceRef } from './workspaces.ts';

type Principal = components['schemas']['Principal'];

export interface LoginOptions {
  deviceLabel?: string;
  browser: boolean;
  withToken?: boolean;
  force?: boolean;
  /** Bind the login to this machine's key for the host (DPoP); `--no-dpop` turns it off. */
  dpop: boolean;
}

export async function login(ctx: CliContext, opts: LoginOptions): Promise<void> {
  const host = await ctx.host();
  if (!(await mayReplace(ctx, host, opts))) return;
  if (opts.withToken) return loginWithToken(ctx, host);
  const controller = new AbortController();
  const cancel = () => controller.abort(new CliError(130, 'Login cancelled.'));
  process.once('SIGINT', cancel);
  const spinner = new Spinner('Waiting for you to approve in the browser…');
  let stopListening = () => {};
  let finished = false;
  try {
    const label = opts.deviceLabel?.trim() || hostname();
    // Made (or read) before the code is shown: a key that cannot be written fails the login before anyone approves it.
    const key = opts.dpop ? await DpopKey.forHost(ctx.hosts.dir, host) : null;
    const start = await startDeviceFlow(host, label, controller.signal);
    const complete = start.verification_uri_complete;
    const prompt = opts.browser && interactive() && canOpenBrowser();
    if (prompt) {
      process.stderr.write(`\n${err.yellow('!')} First copy your one-time code: ${err.bold(start.user_code)}\n`);
    } else {
      process.stderr.write(
        `\nTo sign in, open ${start.verification_uri}\nand enter the code:  ${err.bold(start.user_code)}\n\nOr open this link, which has the code in it:\n  ${complete}\n\n`,
      );
    }
    // Only for a person at a terminal; silent when there is no clipboard tool.
    if (interactive() && (await copyToClipboard(start.user_code))) process.stderr.write(`${err.green('✓')} Copied the code to your clipboard.\n`);
    if (prompt) {
      process.stderr.write(`Press Enter to open ${complete} in your browser… (or open ${start.verification_uri} on another device)\n`);
      stopListening = onEnter(() => {
        void openBrowser(complete, host).then((opened) => {
          // Once the login is over, the verdict no longer matters (and would print after the result).
          if (finished) return;
          if (opened) spinner.note(`${err.green('✓')} Opened ${complete} in your browser.`);
          else if (opened === false) spinner.note(`Could not open a browser; open ${complete} yourself.`);
        });
      }, cancel);
    }
    spinner.start();
    const issued = await pollForToken(host, start, controller.signal, spinner, ctx.cmd('login'), key);
    finished = true;
    stopListening();
    spinner.stop();
    // RFC 9449 §5: a server that does not bind tokens answers Bearer; the login is then a bearer login, and says so.
    if (key && !isBound(issued)) process.stderr.write(`Note: ${host} did not bind this login to a key (DPoP); its tokens are bearer tokens.\n`);
    const api = apiClient(host, { token: issued.access_token, key: key && isBound(issued) ? key : null });
    const me = await call({ ctx, host }, api.GET('/me', { signal: controller.signal }));
    const workspace = await defaultWorkspace(ctx, host, api, me);
    // Ctrl-C up to here cancels; the save itself is one atomic rename.
    controller.signal.throwIfAborted();
    await finish(ctx, host, loginFrom(issued, me.email ?? me.sub, key), me, workspace);
  } finally {
    finished = true;
    stopListening();
    spinner.stop();
    process.off('SIGINT', cancel);
  }
}

/**
 * A host that already has a live login is not replaced silently: in a terminal the
 * user is asked; elsewhere (scripts, --with-token, whose stdin is the token) the
 * command refuses unless --force. False when the user chose to keep the login.
 */
async function mayReplace(ctx: CliContext, host: string, opts: LoginOptions): Promise<boolean> {
  const existing = await ctx.login(host);
  if (!existing || opts.force) return true;
  // A device login lasts as long as its refresh token; without one, as long as its token.
  const end = existing.refresh_token ? existing.refresh_expires_at : existing.expires_at;
  if (end && Date.parse(end) <= Date.now()) return true;
  const already = `Already logged in to ${host} as ${terminalLine(existing.email)}, with a ${describeKind(tokenKind(existing.token))}.`;
  if (!opts.withToken && interactive()) {
    process.stderr.write(`${already}\n`);
    if (await confirm('Log in again and replace this login?', 'Login cancelled.')) return true;
    ctx.print(`Kept the login of ${terminalLine(existing.email)} for ${host}.`, { host, email: existing.email, replaced: false });
    return false;
  }
  const again = ctx.cmd('login', ...(opts.withToken ? ['--with-token'] : []), '--force');
  throw usage(already, `To replace it, run \`${again}\`.`);
}

/** The CI path (as `gh auth login --with-token`): a token on stdin, checked on /me, then stored. */
async function loginWithToken(ctx: CliContext, host: string): Promise<void> {
  const example = `For example: \`echo "$TESSERA_API_KEY" | ${ctx.cmd('login', '--with-token')}\``;
  if (process.stdin.isTTY) throw usage('--with-token reads the token from standard input, and there is a terminal there.', example);
  const token = (await readStdin('the token', example)).trim();
  if (!token) throw usage('No token on standard input.', example);
  const api = apiClient(host, token);
  const me = await call({ ctx, host, source: 'stdin' }, api.GET('/me'));
  await finish(ctx, host, { token, expires_at: me.expires_at, email: me.email ?? me.sub }, me, await defaultWorkspace(ctx, host, api, me));
}

async function finish(ctx: CliContext, host: string, login: HostLogin, me: Principal, workspace: WorkspaceRef | null): Promise<void> {
  await ctx.hosts.save(host, login);
  const { token, expires_at: expiresAt } = login;
  const renewed = login.refresh_expires_at ? `; renewed automatically while you use it (left unused, the login ends ${when(login.refresh_expires_at)})` : '';
  const validity = (expiresAt ? `valid until ${when(expiresAt)}` : 'does not expire') + renewed;
  const [shown, ws] = [terminalSafe(me), terminalSafe(workspace)];
  const lines = [
    `${out.green('✓')} Logged in to ${host} as ${shown.email ?? shown.sub} (${shown.display_name}).`,
    `  Token: ${describeKind(tokenKind(token))}${login.dpop_jkt ? ', bound to this machine (DPoP)' : ''}, ${validity}`,
    ws ? `  Default workspace: ${ws.name ?? '(name not readable with this token)'} (${ws.id})` : '',
  ];
  const refresh = { refresh_token_expires_at: login.refresh_expires_at ?? null };
  const dpop = { dpop_bound: login.dpop_jkt !== undefined };
  ctx.print(lines.filter(Boolean).join('\n'), { host, email: me.email, expires_at: expiresAt, ...refresh, token_kind: tokenKind(token), ...dpop, default_workspace: workspace, principal: me });
  if (process.env.TESSERA_TOKEN) {
    process.stderr.write('Note: TESSERA_TOKEN is set, and commands use it instead of this login until you unset it.\n');
  }
}
