/** `berth tag`: gives an image of a node another name (POST /images/{name}/tag through the API server). */
import { parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { cliError, nodeFlags, openNodeApi } from './node.js';

const spec = {
  name: 'tag',
  usage: 'berth tag [--node NAME] SOURCE[:TAG] TARGET[:TAG]',
  summary: 'Create a tag TARGET that refers to the image SOURCE (a name or an image ID) on a node.',
  flags: { ...nodeFlags },
  positionals: { min: 2, max: 2 },
  examples: ['berth tag busybox:latest 127.0.0.1:5000/team/busybox:1'],
} satisfies CommandSpec<FlagSpecs>;

export async function tagCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const [source, target] = parsed.positionals as [string, string];
  const node = await openNodeApi(parsed.values);
  try {
    // the target goes whole as repo: the node checks it and applies :latest, as it does for every name
    await node.tag(source, target);
  } catch (e) {
    cliError(e);
  }
}
