/**
 * Whether there is a browser to open at all: macOS and Windows have one; elsewhere a
 * graphical session (X11 or Wayland) is needed, since without it xdg-open falls back
 * to text browsers that would run invisibly. CI never opens one.
 */
export function canOpenBrowser(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.CI) return false;
  return process.platform === 'darwin' || process.platform === 'win32' || Boolean(env.DISPLAY || env.WAYLAND_DISPLAY);
}

/** Only an http(s) URL on the server's own origin: the URL comes from the server, and a hostile one could name a file, another scheme or another site. */
export function sameOriginHttp(url: string, host: string): URL | null {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return null;
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') return null;
  return target.origin === new URL(host).origin ? target : null;
}

/** How long to wait for the opener (open, xdg-open, PowerShell) to say whether it worked; launchers answer in milliseconds. */
const VERDICT_MS = 5_000;

/**
 * Opens a URL in the user's browser with the `open` package: no shell, the URL is one
 * argument (on Windows an encoded PowerShell command). Resolves to true only when the
 * opener exited 0; false when it failed or could not be started. An opener still
 * running after a few seconds (some xdg-open setups stay in the foreground with the
 * browser) resolves to null: nothing is claimed either way.
 */
export async function openBrowser(url: string, host: string): Promise<boolean | null> {
  const target = sameOriginHttp(url, host);
  if (!target) return false;
  let child;
  try {
    // Loaded on demand: only an interactive login opens a browser.
    const { default: open } = await import('open');
    child = await open(target.href);
  } catch {
    return false;
  }
  if (child.exitCode !== null) return child.exitCode === 0;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), VERDICT_MS);
    timer.unref();
    child.once('error', () => (clearTimeout(timer), resolve(false)));
    child.once('exit', (code) => (clearTimeout(timer), resolve(code === 0)));
  });
}
