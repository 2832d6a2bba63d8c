import { clientIp, poll, startFlow } from './device.ts';
import type { TestAccount } from './fixtures.ts';
import type { TestServer } from './server.ts';

export interface ConsoleLogin {
  cookie: string;
  csrf: string;
  setCookie: string;
}

export function signinRequest(server: Pick<TestServer, 'url'>, email: string, password: string, headers: Record<string, string> = {}) {
  return fetch(`${server.url}/console/api/signin`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ email, password }),
  });
}

/** Signs in to the console over HTTP, as the /signin page does (from its own client address unless told). */
export async function consoleSignin(server: Pick<TestServer, 'url'>, account: Pick<TestAccount, 'email' | 'password'>, headers: Record<string, string> = clientIp()): Promise<ConsoleLogin> {
  const res = await signinRequest(server, account.email, account.password, headers);
  if (res.status !== 200) throw new Error(`signin: ${res.status} ${await res.text()}`);
  const setCookie = res.headers.get('set-cookie') ?? '';
  const body = (await res.json()) as { csrf_token: string };
  return { cookie: setCookie.split(';')[0]!, csrf: body.csrf_token, setCookie };
}

/** POST /openapi/v1/oauth/device/{approve|deny} as the /device page sends it. */
export function decide(server: Pick<TestServer, 'url'>, decision: 'approve' | 'deny', userCode: string, login: Partial<ConsoleLogin>, headers: Record<string, string> = {}) {
  return fetch(`${server.url}/openapi/v1/oauth/device/${decision}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(login.cookie ? { cookie: login.cookie } : {}),
      ...(login.csrf !== undefined ? { 'x-csrf-token': login.csrf } : {}),
      ...headers,
    },
    body: JSON.stringify({ user_code: userCode }),
  });
}

/**
 * A whole device login over HTTP, as the CLI and the browser make it: the code from
 * `start`, sign-in and approval on `approveOn`, the token collected from `start` again
 * (replicas behind one load balancer: any of them may serve any step).
 */
export async function deviceLogin(start: Pick<TestServer, 'url'>, approveOn: Pick<TestServer, 'url'>, account: Pick<TestAccount, 'email' | 'password'>): Promise<string> {
  const flow = await startFlow(start);
  const approved = await decide(approveOn, 'approve', flow.user_code, await consoleSignin(approveOn, account));
  if (approved.status !== 200) throw new Error(`approve: ${approved.status} ${await approved.text()}`);
  const res = await poll(start, flow.device_code);
  if (res.status !== 200) throw new Error(`token: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}
