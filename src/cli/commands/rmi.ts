/** `berth rmi`: removes images of a node (DELETE /images/{name} through the API server), as `docker rmi`. */
import { parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { ExitError, formatError } from '../errors.js';
import { nodeFlags, openNodeApi } from './node.js';

const spec = {
  name: 'rmi',
  usage: 'berth rmi [-f] [--no-prune] [--node NAME] IMAGE...',
  summary: 'Remove images from a node: a name with other names left is untagged, the last name (or an ID) deletes the image; refused while a container uses it unless -f.',
  flags: {
    ...nodeFlags,
    force: { type: 'boolean', short: 'f', description: 'remove even while containers use it (a running container keeps it: it is only untagged)' },
    'no-prune': { type: 'boolean', description: 'do not delete untagged parents (accepted for docker compatibility: parents are never deleted)' },
  },
  positionals: { min: 1 },
  examples: ['berth rmi app:old', 'berth rmi -f 3f2a9c1b4d5e'],
} satisfies CommandSpec<FlagSpecs>;

export async function rmiCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const v = parsed.values;
  // parseArgs (allowNegative) reads --no-prune as prune=false
  const noprune = v['no-prune'] === true || (v as Record<string, unknown>).prune === false;
  const node = await openNodeApi(v);
  let failed = false;
  // as docker rmi: every image is tried, each failure reported, exit 1 if any failed
  for (const image of parsed.positionals) {
    try {
      for (const r of await node.removeImage(image, { force: v.force === true, noprune })) {
        if (r.Untagged) console.log(`Untagged: ${r.Untagged}`);
        if (r.Deleted) console.log(`Deleted: ${r.Deleted}`);
      }
    } catch (e) {
      failed = true;
      process.stderr.write(`${formatError(e)}\n`);
    }
  }
  if (failed) throw new ExitError(1);
}
