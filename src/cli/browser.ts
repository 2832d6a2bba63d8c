import { spawn } from 'node:child_process';

/**
 * Opens a URL in the user's browser when there is one to open; failures are ignored
 * (the URL is printed anyway). Only an http(s) URL on the server's own origin is
 * opened: the URL comes from the server, and a hostile one could name a file,
 * another scheme or another site.
 */
export function openBrowser(url: string, host: string): boolean {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return false;
  }
  if ((target.protocol !== 'http:' && target.protocol !== 'https:') || target.origin !== new URL(host).origin) return false;
  const platform = process.platform;
  const hasDisplay = platform === 'darwin' || platform === 'win32' || Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
  if (!hasDisplay || process.env.CI) return false;
  // No shell anywhere: on Windows the URL handler is called directly, so `&` in a URL is just a character.
  const href = target.href;
  const [cmd, args] =
    platform === 'darwin'
      ? ['open', [href]]
      : platform === 'win32'
        ? ['rundll32', ['url.dll,FileProtocolHandler', href]]
        : ['xdg-open', [href]];
  try {
    const child = spawn(cmd, args as string[], { detached: true, stdio: 'ignore' });
    child.on('error', () => undefined);
    child.unref();
    return true;
  } catch {
    return false;
  }
}
