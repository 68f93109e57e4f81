/** `berth push`: pushes a local image to a registry. */
import { parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { cliError, layerProgress, nodeFlags, openNode } from './pull.js';

const spec = {
  name: 'push',
  usage: 'berth push [-q] NAME[:TAG]',
  summary: 'Push an image to a registry (tag it first with berth tag SOURCE REGISTRY/NAME[:TAG]).',
  flags: {
    ...nodeFlags,
    quiet: { type: 'boolean', short: 'q', description: 'print nothing but errors' },
    'chunk-size': { type: 'string', valueName: 'BYTES', description: 'upload blobs in PATCH chunks of this size (default: one request per blob)' },
  },
  positionals: { min: 1, max: 1 },
  examples: ['berth tag busybox 127.0.0.1:5000/team/busybox:1', 'berth push 127.0.0.1:5000/team/busybox:1'],
} satisfies CommandSpec<FlagSpecs>;

export async function pushCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const v = parsed.values;
  const chunkSize = v['chunk-size'] === undefined ? undefined : Number(v['chunk-size']);
  if (chunkSize !== undefined && (!Number.isInteger(chunkSize) || chunkSize <= 0)) cliError(new Error(`--chunk-size: "${v['chunk-size']}" is not a positive number of bytes`));
  const { distribution } = await openNode(v['data-dir']);
  const progress = v.quiet ? { done: () => undefined } : layerProgress();
  try {
    const r = await distribution.push(parsed.positionals[0] as string, { onProgress: 'onProgress' in progress ? progress.onProgress : undefined, chunkSize });
    progress.done();
    if (!v.quiet) console.log(`${r.ref.tag ?? 'latest'}: digest: ${r.digest} size: ${r.size}`);
  } catch (e) {
    progress.done();
    cliError(e);
  }
}
