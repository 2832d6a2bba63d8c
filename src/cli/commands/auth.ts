import { apiClient, call } from '../api.ts';
import { CLIENT_ID, postForm } from '../device-login.ts';
import { CliError, EXIT, network } from '../errors.ts';
import type { CliContext } from '../session.ts';
import { terminalLine, terminalSafe, when } from '../term.ts';
import { ACCOUNT_ISSUER, describeKind, tokenKind } from '../token-kind.ts';
import { defaultWorkspace } from './workspaces.ts';

export async function whoami(ctx: CliContext): Promise<void> {
  const target = await ctx.client();
  const me = await call({ ctx, ...target }, target.api.GET('/me'));
  const workspace = await defaultWorkspace(ctx, target.host, target.api, me);
  const external = me.subject_issuer !== ACCOUNT_ISSUER;
  const [shown, ws] = [terminalSafe(me), terminalSafe(workspace)];
  const lines = [
    `${shown.email ?? shown.sub} (${shown.display_name}) on ${target.host}`,
    `  Token: ${describeKind(tokenKind(target.token))}${target.source === 'env' ? ' from TESSERA_TOKEN' : ''}${target.key ? ', bound to this machine (DPoP)' : ''}, scopes ${shown.scopes.join(' ')}, ${me.expires_at ? `valid until ${when(me.expires_at)}` : 'without expiry'}`,
    external ? `  Signed in through: ${shown.subject_issuer} (single sign-on; you see the apps granted to you)` : '',
    ws ? `  Default workspace: ${ws.name ?? '(name not readable with this token)'} (${ws.id})` : '',
  ];
  ctx.print(lines.filter(Boolean).join('\n'), { host: target.host, ...me, token_kind: tokenKind(target.token), dpop_bound: target.key !== null, default_workspace: workspace });
}

/** Revokes this device's login on the server, then always forgets it locally. */
export async function logout(ctx: CliContext): Promise<void> {
  const host = await ctx.host();
  const stored = await ctx.login(host);
  if (!stored) {
    ctx.print(`Not logged in to ${host}; nothing to do.`, { host, logged_out: false });
    return;
  }
  if (tokenKind(stored.token) === 'tsk_') {
    // An API key is not a session: it was made on purpose and may be used elsewhere, so logout only forgets it here.
    await ctx.hosts.remove(host);
    ctx.print(`Logged out of ${host}. The API key itself stays valid; delete it on the server if you no longer need it.`, {
      host,
      logged_out: true,
      revoked_on_server: false,
    });
    return;
  }
  let revoked = true;
  try {
    // A login with a refresh token ends through it (RFC 7009): it works even after the access token expired.
    if (stored.refresh_token) await revokeRefreshToken(host, stored.refresh_token);
    else await call({ ctx, host }, apiClient(host, { token: stored.token, key: await ctx.keyOf(host, stored) }).DELETE('/me/sessions/self'));
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    // A token the server no longer accepts is already as good as revoked.
    if (err.exitCode === EXIT.network) {
      revoked = false;
      process.stderr.write(`Warning: ${terminalLine(err.message)}. The login was removed here, but the token stays valid on the server until it expires.\n`);
    } else if (err.exitCode !== EXIT.auth) {
      revoked = false;
      process.stderr.write(`Warning: the server did not revoke the token (${terminalLine(err.message)}); it was removed here.\n`);
    }
  }
  await ctx.hosts.remove(host);
  ctx.print(`Logged out of ${host}.`, { host, logged_out: true, revoked_on_server: revoked });
  if (process.env.TESSERA_TOKEN) process.stderr.write('Note: TESSERA_TOKEN is still set; commands keep using it until you unset it.\n');
}

/** RFC 7009 §2.1: revoking the refresh token ends the whole session on the server (200 also for one it no longer knows). */
async function revokeRefreshToken(host: string, refreshToken: string): Promise<void> {
  let r;
  try {
    r = await postForm(`${host}/openapi/v1/oauth/revoke`, { token: refreshToken, token_type_hint: 'refresh_token', client_id: CLIENT_ID }, AbortSignal.timeout(15_000));
  } catch (err) {
    throw network(host, err);
  }
  if (r.status !== 200) throw new CliError(EXIT.api, `Error ${r.status} ${String(r.body.error ?? '')}: ${String(r.body.error_description ?? 'the server gave no details.')}`);
}
