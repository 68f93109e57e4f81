/** `berth logout`: forgets the saved credentials of a registry. */
import { parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { nodeFlags, openNode } from './pull.js';

const spec = {
  name: 'logout',
  usage: 'berth logout [SERVER]',
  summary: 'Remove the saved credentials of a registry (default docker.io).',
  flags: { ...nodeFlags },
  positionals: { min: 0, max: 1 },
} satisfies CommandSpec<FlagSpecs>;

export async function logoutCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const server = (parsed.positionals[0] ?? 'docker.io').replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  const { distribution } = await openNode(parsed.values['data-dir']);
  const removed = await distribution.logout(server);
  console.log(removed ? `Removing login credentials for ${server}` : `Not logged in to ${server}`);
}
