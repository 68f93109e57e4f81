/** `berth exec NAME -- CMD...`: run a command in a running container; its exit code becomes ours. */
import { containerSubresourcePath, readAll, requestSubresource } from '../../client/subresource.js';
import { clientFlags, namespaceFlag, parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { connect } from '../connect.js';
import { CliError, ExitError } from '../errors.js';

const spec = {
  name: 'exec',
  usage: 'berth exec [-i] [-u USER] [-w DIR] [-e NAME=VALUE]... NAME -- COMMAND [ARG...]',
  summary: 'Run a command in a running container and pass its exit code through (docker exec).',
  flags: {
    ...clientFlags,
    ...namespaceFlag,
    stdin: { type: 'boolean', short: 'i', description: "send this command's standard input to the process" },
    tty: { type: 'boolean', short: 't', description: 'accepted for docker compatibility; output is not a terminal' },
    user: { type: 'string', short: 'u', valueName: 'USER', description: 'user[:group] to run as' },
    workdir: { type: 'string', short: 'w', valueName: 'DIR', description: 'working directory inside the container' },
    env: { type: 'string', short: 'e', multiple: true, valueName: 'NAME=VALUE', description: 'extra environment variable; repeatable' },
  },
  positionals: { min: 2 },
  examples: ['berth exec hello -- cat /etc/hostname', 'echo hi | berth exec -i hello -- cat'],
} satisfies CommandSpec<FlagSpecs>;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function execCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const [name, ...command] = parsed.positionals;
  if (!name || command.length === 0) throw new CliError("exec needs a container name and a command: berth exec NAME -- COMMAND [ARG...]");
  const v = parsed.values;
  for (const e of v.env ?? []) if (!/^[^=]+=/.test(e)) throw new CliError(`-e: want NAME=VALUE, got "${e}"`);
  const { client, namespace } = connect(v);
  const body = {
    command,
    ...(v.stdin ? { stdin: await readStdin() } : {}),
    ...(v.user ? { user: v.user } : {}),
    ...(v.workdir ? { workingDir: v.workdir } : {}),
    ...(v.env?.length ? { env: v.env } : {}),
  };
  const res = await requestSubresource(client.kc, 'POST', containerSubresourcePath(namespace, name, 'exec'), {}, body);
  const result = JSON.parse(await readAll(res)) as { exitCode: number; stdout: string; stderr: string };
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  if (result.exitCode !== 0) throw new ExitError(result.exitCode);
}
