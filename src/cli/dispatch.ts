/** The `berth` command table: dispatches to one file per command under commands/. */
import { apiResourcesCommand } from './commands/api-resources.js';
import { applyCommand } from './commands/apply.js';
import { deleteCommand } from './commands/delete.js';
import { describeCommand } from './commands/describe.js';
import { getCommand } from './commands/get.js';
import { serverCommand } from './commands/server.js';
import { versionCommand } from './commands/version.js';
import { CliError, ExitError, formatError } from './errors.js';

interface Command {
  run(argv: string[]): Promise<void>;
  summary: string;
}

const commands: Record<string, Command> = {
  server: { run: serverCommand, summary: 'run the all-in-one server (API, store, controllers); writes <data-dir>/kubeconfig' },
  apply: { run: applyCommand, summary: 'create or update objects from manifests (server-side apply)' },
  get: { run: (a) => getCommand(a), summary: 'list objects or show some by name; -w follows changes' },
  describe: { run: (a) => describeCommand(a), summary: 'show objects in detail, with their events' },
  delete: { run: (a) => deleteCommand(a), summary: 'delete objects by name, selector or manifest' },
  'api-resources': { run: (a) => apiResourcesCommand(a), summary: 'list the resource types the server serves' },
  version: { run: (a) => versionCommand(a), summary: 'print client and server versions' },
};

export function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return [
    'berth: Docker rebuilt as a declarative, Kubernetes-style system.',
    '',
    'Usage: berth COMMAND [flags]',
    '',
    'Commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'berth COMMAND --help' for a command's flags.",
    '',
  ].join('\n');
}

/** Runs one invocation; returns the exit code (errors are printed, never thrown). */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    if (name === 'help' && rest[0] && commands[rest[0]]) return main([rest[0], '--help']);
    process.stdout.write(usage());
    return name === undefined ? 1 : 0;
  }
  if (name === '--version') return main(['version', '--client']);
  const command = commands[name];
  try {
    if (!command) throw new CliError(`unknown command "${name}" for "berth". Run 'berth --help' for the list of commands.`);
    await command.run(rest);
    return 0;
  } catch (err) {
    if (err instanceof ExitError) return err.exitCode;
    process.stderr.write(`${formatError(err)}\n`);
    return 1;
  }
}
