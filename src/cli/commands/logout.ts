/** `berth logout`: forgets the saved credentials of a registry (on this side only: nodes keep none). */
import { CredentialsFile, registryHost } from '../../client/registry-credentials.js';
import { parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { cliError } from './node.js';

const spec = {
  name: 'logout',
  usage: 'berth logout [SERVER]',
  summary: 'Remove the saved credentials of a registry (default docker.io).',
  flags: {
    'data-dir': { type: 'string', valueName: 'DIR', description: 'accepted for compatibility: logins live in $BERTH_CONFIG/config.json (~/.berth)' },
    help: { type: 'boolean', short: 'h', description: 'show this help' },
  },
  positionals: { min: 0, max: 1 },
} satisfies CommandSpec<FlagSpecs>;

export async function logoutCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const server = registryHost(parsed.positionals[0] ?? 'docker.io');
  let removed = false;
  try {
    removed = await new CredentialsFile().remove(server);
  } catch (e) {
    cliError(e);
  }
  console.log(removed ? `Removing login credentials for ${server}` : `Not logged in to ${server}`);
}
