/** `berth push`: the node pushes one of its images to a registry, with the user's saved login sent as X-Registry-Auth. */
import { parseImageRef } from '../../api/imageref.js';
import type { NodeApiClient } from '../../client/node-api.js';
import { CredentialsFile, registryOf } from '../../client/registry-credentials.js';
import { parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { CliError } from '../errors.js';
import { cliError, layerProgress, nodeFlags, openNodeApi } from './node.js';

const spec = {
  name: 'push',
  usage: 'berth push [-q] [--node NAME] NAME[:TAG]',
  summary: 'Push an image of a node to a registry (tag it first with berth tag SOURCE REGISTRY/NAME[:TAG]).',
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
  const target = parsed.positionals[0] as string;
  const chunkSize = v['chunk-size'] === undefined ? undefined : Number(v['chunk-size']);
  if (chunkSize !== undefined && (!Number.isInteger(chunkSize) || chunkSize <= 0)) throw new CliError(`--chunk-size: "${v['chunk-size']}" is not a positive number of bytes`);
  const ref = parseImageRef(target);
  if (!ref) throw new CliError(`"${target}" is not a valid image reference ([registry/]repository[:tag], lowercase)`);
  if (ref.digest) throw new CliError(`"${target}": push needs a tag, not a digest`);
  let registryAuth: string | undefined;
  try {
    registryAuth = await new CredentialsFile().registryAuth(registryOf(target));
  } catch (e) {
    cliError(e);
  }
  const node = await openNodeApi(v);
  const result = await pushFromNode(node, target, { quiet: v.quiet === true, ...(chunkSize ? { chunkSize } : {}), ...(registryAuth ? { registryAuth } : {}) });
  if (!v.quiet) console.log(`${result.tag}: digest: ${result.digest} size: ${result.size}`);
}

/** Pushes `target` from the node, drawing the layers' progress; answers what the registry took. */
export async function pushFromNode(node: NodeApiClient, target: string, opts: { quiet: boolean; chunkSize?: number; registryAuth?: string }): Promise<{ tag: string; digest: string; size: number }> {
  const ref = parseImageRef(target);
  const name = ref ? `${ref.domain ? `${ref.domain}/` : ''}${ref.path}` : target;
  const progress = opts.quiet ? { onLayer: () => undefined, done: () => undefined } : layerProgress();
  let result: { tag: string; digest: string; size: number } | undefined;
  try {
    await node.push(name, {
      ...(ref?.tag ? { tag: ref.tag } : {}),
      ...(opts.chunkSize ? { chunkSize: opts.chunkSize } : {}),
      ...(opts.registryAuth ? { registryAuth: opts.registryAuth } : {}),
      onMessage: (m) => {
        if (m.id) progress.onLayer(m);
        const a = m.aux;
        if (a && typeof a.Tag === 'string' && typeof a.Digest === 'string' && typeof a.Size === 'number') result = { tag: a.Tag, digest: a.Digest, size: a.Size };
      },
    });
  } catch (e) {
    progress.done();
    cliError(e);
  }
  progress.done();
  if (!result) throw new CliError(`push of ${target} on node ${node.node}: the stream ended without a result`);
  return result;
}
