// RFC 8628 §3.1–3.5 from the client side: start, show the code, poll politely.
import { isFormattedUserCode } from '../device-flow/user-code.ts';
import { sameOriginHttp } from './browser.ts';
import type { DpopKey } from './dpop-key.ts';
import { CliError, EXIT, isConnectTimeout, network } from './errors.ts';
import { cliFetch } from './http.ts';
import type { Spinner } from './spinner.ts';

export const CLIENT_ID = 'tessera-cli';
const GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const MAX_BACKOFF_MS = 30_000;

/** The device authorization answer, checked: the code and both links are safe to show, copy and open. */
export interface DeviceStart {
  device_code: string;
  /** XXXX-XXXX in capitals. */
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval?: number;
}

export interface IssuedToken {
  access_token: string;
  /** `DPoP` when the tokens were bound to the key of the request's proof (RFC 9449 §5); `Bearer` otherwise. */
  token_type?: string;
  expires_in: number;
  scope?: string;
  /** Servers with refresh tokens on: the `tsr_` token and how long it lasts unused. */
  refresh_token?: string;
  refresh_token_expires_in?: number;
}

export interface FormResult {
  status: number;
  body: Record<string, unknown>;
  retryAfterMs: number | null;
}

/** A form POST to an OAuth endpoint; with `key`, a DPoP proof for it rides along (RFC 9449 §5). */
export async function postForm(url: string, params: Record<string, string>, signal: AbortSignal, key: DpopKey | null = null): Promise<FormResult> {
  const res = await cliFetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...(key ? { DPoP: await key.proof('POST', url) } : {}) },
    body: new URLSearchParams(params).toString(),
    signal,
  });
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  const retryAfter = Number(res.headers.get('retry-after'));
  return { status: res.status, body, retryAfterMs: retryAfter > 0 ? retryAfter * 1000 : null };
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });

const expired = (loginCommand: string) => new CliError(EXIT.auth, 'The code expired before it was approved.', `Run \`${loginCommand}\` again.`);

// The server's words, for an error message (main prints every message as one line without control characters).
const describe = (r: FormResult) => `${String(r.body.error ?? r.status)}: ${String(r.body.error_description ?? 'no details')}`;

/**
 * Checks what the host answered before any of it reaches the terminal or the clipboard.
 * The user code is copied and typed into a page, so it must be a Tessera code and
 * nothing else (not a command line a person might paste into a shell). The links are
 * printed and opened, so they must be http(s) on the host's own origin (and are printed
 * as parsed, control characters percent-encoded); otherwise the host's own /device is
 * shown instead, which is where the code is entered on a Tessera server.
 */
function checkStart(host: string, body: Record<string, unknown>): DeviceStart {
  const notTessera = `Is ${host} a Tessera server? Check --host or TESSERA_HOST.`;
  const code = typeof body.user_code === 'string' ? body.user_code.toUpperCase() : '';
  if (!isFormattedUserCode(code)) {
    throw new CliError(EXIT.api, `${host} sent a login code that is not a Tessera code (XXXX-XXXX, consonants only); it is not shown or copied.`, notTessera);
  }
  const expiresIn = Number(body.expires_in);
  if (typeof body.device_code !== 'string' || !body.device_code || !(expiresIn > 0)) {
    throw new CliError(EXIT.api, `${host} started the login without a device code or an expiry.`, notTessera);
  }
  const page = `${host}/device`;
  const own = (url: unknown, fallback: string) => (typeof url === 'string' ? sameOriginHttp(url, host)?.href : undefined) ?? fallback;
  return {
    device_code: body.device_code,
    user_code: code,
    verification_uri: own(body.verification_uri, page),
    verification_uri_complete: own(body.verification_uri_complete, `${page}?user_code=${code}`),
    expires_in: expiresIn,
    interval: typeof body.interval === 'number' ? body.interval : undefined,
  };
}

/** Waits before retrying a refused or reset connection: short, so a server that is not there is reported within about a second. */
const CONNECT_RETRIES_MS = [300, 900];

export async function startDeviceFlow(host: string, deviceLabel: string, signal: AbortSignal): Promise<DeviceStart> {
  let backoff = 1_000;
  let connectFailures = 0;
  for (let attempt = 0; ; attempt++) {
    let r: FormResult;
    try {
      r = await postForm(`${host}/openapi/v1/oauth/device/code`, { client_id: CLIENT_ID, device_label: deviceLabel }, signal);
    } catch (err) {
      // A server restarting answers again within a second; one that is down never does,
      // and the user should hear so at once rather than after seconds of backoff. A host
      // that let the connect time out has already had its chance: no second try.
      const wait = isConnectTimeout(err) ? undefined : CONNECT_RETRIES_MS[connectFailures++];
      if (signal.aborted || wait === undefined) throw signal.aborted ? err : network(host, err);
      await sleep(wait, signal);
      continue;
    }
    if (r.status === 200) return checkStart(host, r.body);
    if ((r.status >= 500 || r.status === 429) && attempt < 3) {
      await sleep(r.retryAfterMs ?? backoff, signal);
      backoff *= 2;
      continue;
    }
    throw new CliError(EXIT.api, `Could not start the login: ${describe(r)}`);
  }
}

/**
 * Polls the token endpoint: every `interval` seconds, +5 s on slow_down (§3.5),
 * doubling backoff on network errors and 5xx, until a token, a final error or expiry.
 * With `key`, every poll carries a new DPoP proof, so the tokens come bound to it.
 */
export async function pollForToken(host: string, start: DeviceStart, signal: AbortSignal, spinner: Spinner, loginCommand: string, key: DpopKey | null = null): Promise<IssuedToken> {
  // RFC 8628 §3.2: 5 s when the server names no interval; never a busy loop.
  let intervalMs = Math.max(1, start.interval ?? 5) * 1000;
  let backoff = 1_000;
  const deadline = Date.now() + start.expires_in * 1000;
  let waitMs = intervalMs;
  while (true) {
    spinner.deadline = deadline;
    await sleep(waitMs, signal);
    if (Date.now() >= deadline) throw expired(loginCommand);
    let r: FormResult;
    try {
      r = await postForm(`${host}/openapi/v1/oauth/token`, { grant_type: GRANT, device_code: start.device_code, client_id: CLIENT_ID }, signal, key);
    } catch (err) {
      if (signal.aborted) throw err;
      spinner.note(`Network problem (${network(host, err).message}); retrying…`);
      waitMs = Math.max(intervalMs, backoff);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      continue;
    }
    if (r.status === 200) return r.body as unknown as IssuedToken;
    if (r.status >= 500 || r.status === 429) {
      waitMs = Math.max(intervalMs, r.retryAfterMs ?? backoff);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      continue;
    }
    backoff = 1_000;
    switch (r.body.error) {
      case 'authorization_pending':
        waitMs = intervalMs;
        continue;
      case 'slow_down':
        intervalMs += 5_000;
        waitMs = intervalMs;
        continue;
      case 'access_denied':
        throw new CliError(EXIT.auth, 'The login was denied in the browser.');
      case 'expired_token':
        throw expired(loginCommand);
      case 'invalid_dpop_proof':
        // Most likely the host is not the address the server knows itself by (PUBLIC_URL), which the proof had to name.
        throw new CliError(EXIT.api, `The login failed: ${describe(r)}`, `Log in with --host set to the server's own address, or with --no-dpop for a login not bound to this machine.`);
      default:
        throw new CliError(EXIT.api, `The login failed: ${describe(r)}`);
    }
  }
}
