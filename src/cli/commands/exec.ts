/**
 * `berth exec [-i] [-t] NAME -- CMD...`: run a command in a running container through the API
 * server's WebSocket exec, as `kubectl exec` does; its exit code becomes ours.
 */
import { execQueryString } from '../../api/exec-query.js';
import { execOverWebSocket, type ExecIO } from '../../client/exec-socket.js';
import { containerSubresourcePath, rawConnectionOf } from '../../client/subresource.js';
import { clientFlags, namespaceFlag, parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { connect } from '../connect.js';
import { CliError, ExitError } from '../errors.js';
import { splitAtImage } from '../docker/run-spec.js';

const spec = {
  name: 'exec',
  usage: 'berth exec [-i] [-t] [-u USER] [-w DIR] [-e NAME=VALUE]... NAME [--] COMMAND [ARG...]',
  summary:
    'Run a command in a running container and pass its exit code through (kubectl exec, docker exec). Input and output stream ' +
    "over a WebSocket through the API server; without -t the command's stdout and stderr stay separate.",
  flags: {
    ...clientFlags,
    ...namespaceFlag,
    stdin: { type: 'boolean', short: 'i', description: "pass this command's standard input to the process; its end closes the process's stdin" },
    tty: {
      type: 'boolean',
      short: 't',
      description:
        "give the process a terminal (stdout and stderr arrive merged) that follows this terminal's size; with -i on a local terminal, that terminal goes raw. With -i and input that is not a terminal, -t is dropped (as kubectl does)",
    },
    user: { type: 'string', short: 'u', valueName: 'USER', description: 'user[:group] to run as' },
    workdir: { type: 'string', short: 'w', valueName: 'DIR', description: 'working directory inside the container' },
    env: { type: 'string', short: 'e', multiple: true, valueName: 'NAME=VALUE', description: 'extra environment variable; repeatable' },
  },
  positionals: { min: 2 },
  examples: ['berth exec hello -- cat /etc/hostname', 'echo hi | berth exec -i hello -- cat', 'berth exec -it hello -- sh'],
} satisfies CommandSpec<FlagSpecs>;

/** This process's terminal as the remote one should see it, when stdout is one. */
function localTerminal(): ExecIO['terminal'] {
  if (!process.stdout.isTTY) return undefined;
  return {
    size: () => ({ Width: process.stdout.columns, Height: process.stdout.rows }),
    onResize(listener) {
      // Node turns SIGWINCH into 'resize' on a TTY stdout
      process.stdout.on('resize', listener);
      return () => process.stdout.off('resize', listener);
    },
  };
}

export async function execCommand(argv: string[]): Promise<void> {
  // as docker exec: flags stop at the container's name, what follows is the command (`berth exec web ls -l`); `--` still works
  const split = splitAtImage(argv, spec.flags);
  const rest = split.command[0] === '--' ? split.command.slice(1) : split.command;
  const parsed = parseCommand({ ...spec, positionals: { min: 1, max: 1 } }, [...split.ours, ...(split.image !== undefined ? [split.image] : [])]);
  if (!parsed) return;
  const name = parsed.positionals[0];
  const command = rest;
  if (!name || command.length === 0) throw new CliError('exec needs a container name and a command: berth exec NAME -- COMMAND [ARG...]');
  const v = parsed.values;
  for (const e of v.env ?? []) if (!/^[^=]+=/.test(e)) throw new CliError(`-e: want NAME=VALUE, got "${e}"`);
  const stdin = v.stdin === true;
  let tty = v.tty === true;
  if (tty && stdin && !process.stdin.isTTY) {
    // a terminal cannot pass on the end of piped input, so the command would never see it
    process.stderr.write('Unable to use a TTY - input is not a terminal or the right kind of file\n');
    tty = false;
  }
  const { client, namespace } = connect(v);
  const conn = await rawConnectionOf(client.kc);
  const query = execQueryString({
    command,
    stdin,
    stdout: true,
    stderr: !tty,
    tty,
    ...(v.user ? { user: v.user } : {}),
    ...(v.workdir ? { workingDir: v.workdir } : {}),
    ...(v.env?.length ? { env: v.env } : {}),
  });
  const terminal = tty ? localTerminal() : undefined;
  const raw = tty && stdin && process.stdin.isTTY;
  if (raw) process.stdin.setRawMode(true);
  let code: number;
  try {
    code = await execOverWebSocket(conn, containerSubresourcePath(namespace, name, 'exec'), query, {
      ...(stdin ? { stdin: process.stdin } : {}),
      stdout: process.stdout,
      stderr: process.stderr,
      ...(terminal ? { terminal } : {}),
    });
  } finally {
    if (raw) process.stdin.setRawMode(false);
    // stdin may still be open (the command did not need all of it): stop reading so we can exit
    if (stdin) process.stdin.destroy();
  }
  if (code !== 0) throw new ExitError(code);
}
