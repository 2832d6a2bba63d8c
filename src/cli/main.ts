import { Command, Option } from 'commander';
import { appInfo, listApps } from './commands/apps.ts';
import { login, logout, whoami } from './commands/auth.ts';
import { run } from './commands/run.ts';
import { CliError, EXIT } from './errors.ts';
import { CliContext, type GlobalOptions } from './session.ts';

const collect = (value: string, previous: string[]) => [...previous, value];

/** `tessera`: device login and app runs against a Tessera server (docs/cli.md). */
export function buildProgram(): Command {
  const program = new Command('tessera')
    .description('Sign in to a Tessera server with a device code and run its apps.')
    .option('--host <url>', 'the Tessera server (default: $TESSERA_HOST, then your last login, then http://localhost:8080)')
    .option('--json', 'print machine-readable JSON')
    .showHelpAfterError()
    .addHelpText(
      'after',
      '\nEnvironment: TESSERA_HOST and TESSERA_TOKEN override the stored login; TESSERA_CONFIG_DIR moves hosts.yml.\nExit codes: 0 ok, 1 usage, 2 login needed or expired, 3 API error, 4 network error.',
    );
  const ctx = (cmd: Command) => new CliContext(cmd.optsWithGlobals<GlobalOptions>());

  program
    .command('login')
    .description('sign in through the browser (OAuth device flow) and store the token')
    .option('--device-label <name>', 'how this machine is named in your sessions (default: the hostname)')
    .option('--no-browser', 'do not open a browser; just print the link and the code')
    .action((opts: { deviceLabel?: string; browser: boolean }, cmd: Command) => login(ctx(cmd), opts));
  program.command('whoami').description('show who you are signed in as').action((_o, cmd: Command) => whoami(ctx(cmd)));
  program
    .command('logout')
    .description('revoke this login on the server and forget it here')
    .action((_o, cmd: Command) => logout(ctx(cmd)));

  const apps = program.command('apps').description('list and inspect apps');
  apps
    .command('list')
    .description('list the apps you can use')
    .option('--workspace <id>', 'only apps of this workspace')
    .addOption(new Option('--mode <mode>', 'only apps of this mode').choices(['chat', 'completion', 'workflow']))
    .option('--name <text>', 'only apps whose name contains this text')
    .action((opts: { workspace?: string; mode?: string; name?: string }, cmd: Command) => listApps(ctx(cmd), opts));
  apps
    .command('info')
    .argument('<app_id>')
    .description("show an app's mode and inputs")
    .action((appId: string, _o, cmd: Command) => appInfo(ctx(cmd), appId));

  program
    .command('run')
    .argument('<app_id>')
    .description('run an app: chat and completion print the answer, workflows print their outputs')
    .option('--input <key=value>', 'an input value (repeatable)', collect, [])
    .option('--inputs-file <file>', 'a JSON object of input values')
    .option('--query <text>', 'the message (required for chat apps)')
    .option('--conversation <id>', 'continue this chat conversation')
    .option('--stream', 'print the answer as it is generated')
    .action((appId: string, opts: { input: string[]; inputsFile?: string; query?: string; conversation?: string; stream?: boolean }, cmd: Command) =>
      run(ctx(cmd), appId, opts),
    );
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`tessera: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`tessera: unexpected error: ${(err as Error)?.message ?? String(err)}\n`);
    return EXIT.usage;
  }
}

process.exitCode = await main(process.argv);
