/**
 * `berth login`: a node checks the credentials against the registry (POST /auth through the API
 * server, as the docker CLI asks dockerd), then they are saved on this side, in
 * $BERTH_CONFIG/config.json (~/.berth), for pull, push and search to send.
 */
import { createInterface } from 'node:readline/promises';
import { CredentialsFile, registryHost } from '../../client/registry-credentials.js';
import { parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { CliError } from '../errors.js';
import { cliError, nodeFlags, openNodeApi } from './node.js';

const spec = {
  name: 'login',
  usage: 'berth login [-u USER] [-p PASSWORD | --password-stdin] [--node NAME] [SERVER]',
  summary: 'Log in to a registry (default docker.io): a node checks the login, which is then saved in $BERTH_CONFIG/config.json (~/.berth).',
  flags: {
    ...nodeFlags,
    username: { type: 'string', short: 'u', valueName: 'USER', description: 'user name' },
    password: { type: 'string', short: 'p', valueName: 'PASSWORD', description: 'password (prefer --password-stdin)' },
    'password-stdin': { type: 'boolean', description: 'read the password from stdin' },
  },
  positionals: { min: 0, max: 1 },
  examples: ["printf '%s' \"$PASS\" | berth login -u alice --password-stdin 127.0.0.1:5000"],
} satisfies CommandSpec<FlagSpecs>;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export async function loginCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const v = parsed.values;
  const server = registryHost(parsed.positionals[0] ?? 'docker.io');
  let username = v.username;
  let password = v.password;
  if (v['password-stdin']) {
    if (password !== undefined) throw new CliError('--password and --password-stdin are mutually exclusive');
    if (!username) throw new CliError('--password-stdin needs --username');
    password = await readStdin();
  }
  if (!username || password === undefined) {
    if (!process.stdin.isTTY) throw new CliError('username and password are required (-u USER --password-stdin) when stdin is not a terminal');
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    username ??= await rl.question('Username: ');
    password ??= await rl.question('Password: ');
    rl.close();
  }
  if (!username || !password) throw new CliError('username and password must not be empty');
  const node = await openNodeApi(v);
  const file = new CredentialsFile();
  try {
    await node.auth(server, username, password);
    await file.set(server, { username, password });
  } catch (e) {
    cliError(e);
  }
  console.log(`Login Succeeded (credentials saved in ${file.path})`);
}
