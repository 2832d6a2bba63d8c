import { Command, Option } from 'commander';
import { appInfo, listApps } from './commands/apps.ts';
import { logout, whoami } from './commands/auth.ts';
import { login, type LoginOptions } from './commands/login.ts';
import { run, type RunOptions } from './commands/run.ts';
import { authStatus } from './commands/status.ts';
import { version } from './commands/version.ts';
import { listWorkspaces } from './commands/workspaces.ts';
import { CliContext, programName, type GlobalOptions } from './session.ts';

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** "Examples:" after a command's options, with the program name the user typed (in place of {tessera} inside a pipeline). */
const examples = (cmd: Command, lines: string[]) =>
  cmd.addHelpText(
    'after',
    `\nExamples:\n${lines.map((l) => `  $ ${l.includes('{tessera}') ? l.replaceAll('{tessera}', programName()) : `${programName()} ${l}`}`).join('\n')}\n`,
  );

const ENVIRONMENT = `Environment:
  TESSERA_HOST        the server to use (instead of --host or your last login)
  TESSERA_TOKEN       the token to use (an API key, or a token from tessera-server admin mint-token);
                      it overrides the stored login
  TESSERA_CONFIG_DIR  where hosts.yml (your logins) lives (default ~/.config/tessera)
  NO_COLOR, FORCE_COLOR  turn colour off, or on when not on a terminal

Exit codes:
  0  success              1  usage error (bad flags or inputs)
  2  login needed         3  the server answered with an error
  4  server unreachable   130  cancelled with Ctrl-C
`;

/** `tessera`: device login and app runs against a Tessera server. */
export function buildProgram(): Command {
  const program = new Command('tessera')
    .usage('<command> [options]')
    .description('Sign in to a Tessera server with a device code and run its apps.')
    .option('--host <url>', 'the Tessera server (default: $TESSERA_HOST, then your last login, then http://localhost:8080)')
    .option('--json', 'print one JSON document on stdout (messages stay on stderr)')
    .option('-V, --version', "print the CLI's version, and the server's when logged in")
    // Every subcommand's help lists --host and --json too (subcommands copy this setting).
    .configureHelp({
      showGlobalOptions: true,
      // --version belongs to the program alone; a subcommand's help lists only --host and --json.
      visibleGlobalOptions(cmd) {
        const global = [];
        for (let parent = cmd.parent; parent; parent = parent.parent) global.push(...parent.options.filter((o) => !o.hidden && o.long !== '--version'));
        return global;
      },
    })
    .showHelpAfterError()
    .action((opts: GlobalOptions & { version?: boolean }, cmd: Command) => (opts.version ? version(ctx(cmd)) : program.help({ error: true })));
  examples(program, ['login --host http://localhost:8080', 'apps list', 'run APP_ID --query "Hello"']);
  program.addHelpText('after', ENVIRONMENT);
  const ctx = (cmd: Command) => new CliContext(cmd.optsWithGlobals<GlobalOptions>());

  const loginCmd = program
    .command('login')
    .description('sign in through the browser (OAuth device flow), or with a token on stdin, and store the login')
    .option('--device-label <name>', 'how this machine is named in your sessions (default: the hostname)')
    .option('--no-browser', 'do not offer to open a browser; just print the link and the code')
    .option('--with-token', 'read a token (an API key, or one from elsewhere) from stdin instead, check it, and store it')
    .option('--force', 'replace an existing login for the host without asking')
    .option('--no-dpop', "do not bind the login to this machine's key (DPoP); its tokens then work as plain bearer tokens anywhere")
    .action((opts: LoginOptions, cmd: Command) => login(ctx(cmd), opts));
  examples(loginCmd, ['login', 'login --host https://tessera.example.com --no-browser', 'echo "$TESSERA_API_KEY" | {tessera} login --with-token']);

  const whoamiCmd = program.command('whoami').description('show who you are signed in as, your token and your default workspace').action((_o, cmd: Command) => whoami(ctx(cmd)));
  examples(whoamiCmd, ['whoami', 'whoami --json']);
  const logoutCmd = program
    .command('logout')
    .description('revoke this login on the server and forget it here')
    .action((_o, cmd: Command) => logout(ctx(cmd)));
  examples(logoutCmd, ['logout', 'logout --host https://tessera.example.com']);

  const auth = program.command('auth').description('inspect your logins');
  examples(auth, ['auth status', 'auth status --json']);
  const statusAction = (_o: unknown, cmd: Command) => authStatus(ctx(cmd));
  const statusHelp = 'show every stored login: user, token kind, expiry, and whether the server accepts it now';
  examples(auth.command('status').description(statusHelp).action(statusAction), ['auth status', 'auth status --json']);
  examples(program.command('status').description(`${statusHelp} (same as auth status)`).action(statusAction), ['status', 'status --json']);

  const versionCmd = program.command('version').description("print the CLI's version, and the server's when logged in or with --host").action((_o, cmd: Command) => version(ctx(cmd)));
  examples(versionCmd, ['version', 'version --host http://localhost:8080 --json']);

  const workspacesCmd = program.command('workspaces').description('list your workspaces and your role in each').action((_o, cmd: Command) => listWorkspaces(ctx(cmd)));
  examples(workspacesCmd, ['workspaces', 'workspaces --json']);

  const apps = program.command('apps').description('list and inspect apps');
  examples(apps, ['apps list', 'apps list --mode chat --json', 'apps info APP_ID']);
  const appsList = apps
    .command('list')
    .description('list the apps you can use (a single sign-on login lists the apps granted to it)')
    .option('--workspace <id>', 'only apps of this workspace (see `workspaces`)')
    .addOption(new Option('--mode <mode>', 'only apps of this mode').choices(['chat', 'completion', 'workflow']))
    .option('--name <text>', 'only apps whose name contains this text')
    .action((opts: { workspace?: string; mode?: string; name?: string }, cmd: Command) => listApps(ctx(cmd), opts));
  examples(appsList, ['apps list', 'apps list --mode chat --name support', 'apps list --workspace WORKSPACE_ID --json']);
  const appsInfo = apps
    .command('info')
    .argument('<app_id>')
    .description("show an app's mode and inputs")
    .action((appId: string, _o, cmd: Command) => appInfo(ctx(cmd), appId));
  examples(appsInfo, ['apps info APP_ID', 'apps info APP_ID --json']);

  const runCmd = program
    .command('run')
    .argument('<app_id>')
    .description('run an app: chat and completion print the answer, workflows print their outputs')
    .option('--input <name=value>', 'an input value; name=@file reads it from a file (repeatable)', collect)
    .option('--input-file <file>', 'a JSON object of input values')
    .addOption(new Option('--inputs-file <file>').hideHelp())
    .option('--query <text>', 'the message (required for chat apps); - reads it from stdin')
    .option('--conversation <id>', 'continue this chat conversation')
    .option('--stream', 'print the answer as it is generated (the default for chat apps on a terminal)')
    .option('--no-stream', 'wait for the whole answer')
    .action((appId: string, opts: RunOptions, cmd: Command) => run(ctx(cmd), appId, opts));
  examples(runCmd, [
    'run APP_ID --query "What can you do?"',
    'run APP_ID --input name=Ada --input notes=@notes.txt',
    'git diff | {tessera} run APP_ID --query - --no-stream --json',
  ]);
  return program;
}
