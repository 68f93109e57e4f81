/** `berth tag`: gives a local image another name. */
import { parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { cliError, nodeFlags, openNode } from './pull.js';

const spec = {
  name: 'tag',
  usage: 'berth tag SOURCE[:TAG] TARGET[:TAG]',
  summary: 'Create a tag TARGET that refers to the image SOURCE (a name or an image ID).',
  flags: { ...nodeFlags },
  positionals: { min: 2, max: 2 },
  examples: ['berth tag busybox:latest 127.0.0.1:5000/team/busybox:1'],
} satisfies CommandSpec<FlagSpecs>;

export async function tagCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const [source, target] = parsed.positionals as [string, string];
  const { runtime } = await openNode(parsed.values['data-dir']);
  try {
    await runtime.images.tag(source, target);
  } catch (e) {
    cliError(e);
  }
}
