import { CliError, EXIT } from './errors.ts';
import { buildProgram } from './program.ts';
import { err, terminalLine, terminalText } from './term.ts';

/** Runs one command line; errors become one line on stderr and an exit code, never a stack trace. */
export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return EXIT.ok;
  } catch (e) {
    if (e instanceof CliError) {
      // Messages quote the server (error descriptions, app names): no control character of its reaches the terminal.
      process.stderr.write(`${err.red('tessera:')} ${terminalLine(e.message)}\n${e.hint ? `${terminalText(e.hint)}\n` : ''}`);
      return e.exitCode;
    }
    process.stderr.write(`tessera: unexpected error: ${terminalLine((e as Error)?.message ?? String(e))}\n`);
    return EXIT.usage;
  }
}

process.exitCode = await main(process.argv);
