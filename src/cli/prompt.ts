import { CliError, usage } from './errors.ts';

/**
 * Listens for Enter on the terminal while other work (polling) goes on. The terminal is
 * in raw mode meanwhile, so nothing is echoed over the spinner; that also means Ctrl-C
 * arrives as a byte rather than a signal, so it is turned into `onCancel`.
 * Returns a function that stops listening and restores the terminal.
 */
export function onEnter(onEnterPressed: () => void, onCancel: () => void): () => void {
  const stdin = process.stdin;
  let active = true;
  const stop = () => {
    if (!active) return;
    active = false;
    stdin.off('data', onData);
    if (stdin.isTTY) stdin.setRawMode(false);
    stdin.pause();
  };
  const onData = (chunk: Buffer) => {
    for (const byte of chunk) {
      if (byte === 0x03) {
        stop();
        return onCancel();
      }
      if (byte === 0x0d || byte === 0x0a) {
        stop();
        return onEnterPressed();
      }
    }
  };
  if (stdin.isTTY) stdin.setRawMode(true);
  stdin.on('data', onData);
  stdin.resume();
  return stop;
}

/** A yes/no question on stderr (inquirer); the default is no. Ctrl-C cancels with `cancelled`. */
export async function confirm(message: string, cancelled: string): Promise<boolean> {
  const { default: ask } = await import('@inquirer/confirm');
  try {
    return await ask({ message, default: false }, { output: process.stderr, clearPromptOnDone: false });
  } catch (err) {
    if ((err as Error)?.name === 'ExitPromptError') throw new CliError(130, cancelled);
    throw err;
  }
}

/** All of standard input as text, one trailing newline dropped (as a shell's `$(…)` would). */
export async function readStdin(what: string, hint: string): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write(`Reading ${what} from standard input; end it with Ctrl-D.\n`);
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  } catch (err) {
    throw usage(`Could not read ${what} from standard input: ${(err as Error).message}`, hint);
  }
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}
