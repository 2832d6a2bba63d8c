import { spawn } from 'node:child_process';

/** Opens a URL in the user's browser when there is one to open; failures are ignored (the URL is printed anyway). */
export function openBrowser(url: string): boolean {
  const platform = process.platform;
  const hasDisplay = platform === 'darwin' || platform === 'win32' || Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
  if (!hasDisplay || process.env.CI) return false;
  const [cmd, args] =
    platform === 'darwin' ? ['open', [url]] : platform === 'win32' ? ['cmd', ['/c', 'start', '""', url]] : ['xdg-open', [url]];
  try {
    const child = spawn(cmd, args as string[], { detached: true, stdio: 'ignore' });
    child.on('error', () => undefined);
    child.unref();
    return true;
  } catch {
    return false;
  }
}
