import { hostname } from 'node:os';
import { apiClient, call } from '../api.ts';
import { openBrowser } from '../browser.ts';
import { pollForToken, startDeviceFlow } from '../device-login.ts';
import { CliError, EXIT } from '../errors.ts';
import type { CliContext } from '../session.ts';
import { Spinner } from '../spinner.ts';

export async function login(ctx: CliContext, opts: { deviceLabel?: string; browser: boolean }): Promise<void> {
  const host = await ctx.host();
  const controller = new AbortController();
  const onSigint = () => controller.abort(new CliError(130, 'Login cancelled.'));
  process.once('SIGINT', onSigint);
  const spinner = new Spinner('Waiting for you to approve in the browser…');
  try {
    const label = opts.deviceLabel?.trim() || hostname();
    const start = await startDeviceFlow(host, label, controller.signal);
    const complete = start.verification_uri_complete ?? start.verification_uri;
    process.stderr.write(
      `\nTo sign in, open ${start.verification_uri}\nand enter the code:  ${start.user_code}\n\nOr open this link, which has the code in it:\n  ${complete}\n\n`,
    );
    if (opts.browser && openBrowser(complete, host)) process.stderr.write('Opened your browser.\n');
    spinner.start();
    const issued = await pollForToken(host, start, controller.signal, spinner);
    spinner.stop();
    const me = await call(host, apiClient(host, issued.access_token).GET('/me', { signal: controller.signal }));
    // Ctrl-C up to here cancels; the save itself is one atomic rename.
    controller.signal.throwIfAborted();
    const expiresAt = new Date(Date.now() + issued.expires_in * 1000).toISOString();
    await ctx.hosts.save(host, { token: issued.access_token, expires_at: expiresAt, email: me.email ?? me.sub });
    ctx.print(`Logged in to ${host} as ${me.email} (${me.display_name}). The login is valid until ${expiresAt}.`, {
      host,
      email: me.email,
      expires_at: expiresAt,
      principal: me,
    });
  } finally {
    spinner.stop();
    process.off('SIGINT', onSigint);
  }
}

export async function whoami(ctx: CliContext): Promise<void> {
  const { host, api } = await ctx.client();
  const me = await call(host, api.GET('/me'));
  const expiry = me.expires_at ? `until ${me.expires_at}` : 'without expiry';
  ctx.print(`${me.email} (${me.display_name}) on ${host}, scopes ${me.scopes.join(' ')}, valid ${expiry}.`, { host, ...me });
}

/** Revokes this device's login on the server, then always forgets it locally. */
export async function logout(ctx: CliContext): Promise<void> {
  const host = await ctx.host();
  const stored = await ctx.login(host);
  if (!stored) {
    ctx.print(`Not logged in to ${host}; nothing to do.`, { host, logged_out: false });
    return;
  }
  let revoked = true;
  try {
    await call(host, apiClient(host, stored.token).DELETE('/me/sessions/self'));
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    // A token the server no longer accepts is already as good as revoked.
    if (err.exitCode === EXIT.network) {
      revoked = false;
      process.stderr.write(`Warning: ${err.message}. The login was removed here, but the token stays valid on the server until it expires.\n`);
    } else if (err.exitCode !== EXIT.auth) {
      revoked = false;
      process.stderr.write(`Warning: the server did not revoke the token (${err.message}); it was removed here.\n`);
    }
  }
  await ctx.hosts.remove(host);
  ctx.print(`Logged out of ${host}.`, { host, logged_out: true, revoked_on_server: revoked });
}
