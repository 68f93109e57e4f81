/**
 * `berth pull`: the node pulls an image from a registry (POST /images/create through the API
 * server), with the user's saved login for that registry sent as X-Registry-Auth.
 */
import type { JsonMessage } from '../../api/node-api.js';
import { CredentialsFile, registryOf } from '../../client/registry-credentials.js';
import { parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { CliError } from '../errors.js';
import { cliError, layerProgress, nodeFlags, openNodeApi } from './node.js';

const spec = {
  name: 'pull',
  usage: 'berth pull [-q] [--node NAME] NAME[:TAG|@DIGEST]',
  summary: 'Pull an image from a registry onto a node (Docker Hub short names work: busybox is docker.io/library/busybox:latest).',
  flags: {
    ...nodeFlags,
    quiet: { type: 'boolean', short: 'q', description: 'print only the image name' },
    platform: { type: 'string', valueName: 'OS/ARCH', description: 'platform to pick from a multi-platform image (default linux/<the node>)' },
  },
  positionals: { min: 1, max: 1 },
  examples: ['berth pull 127.0.0.1:5000/team/app:v1', 'berth pull busybox', 'berth pull --node node2 busybox'],
} satisfies CommandSpec<FlagSpecs>;

export async function pullCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const v = parsed.values;
  const ref = parsed.positionals[0] as string;
  if (v.platform !== undefined && !/^[^/]+\/[^/]+$/.test(v.platform)) throw new CliError(`--platform: "${v.platform}" is not OS/ARCH`);
  let registryAuth: string | undefined;
  try {
    registryAuth = await new CredentialsFile().registryAuth(registryOf(ref));
  } catch (e) {
    cliError(e);
  }
  const node = await openNodeApi(v);
  const progress = v.quiet ? { onLayer: () => undefined, done: () => undefined } : layerProgress();
  let name: string | undefined;
  // Digest and Status come last; they are printed once the layers' lines are final
  const statuses: string[] = [];
  const onMessage = (m: JsonMessage): void => {
    if (m.aux && typeof m.aux.Name === 'string') name = m.aux.Name;
    if (m.id) {
      if (!m.status?.startsWith('Pulling from')) progress.onLayer(m);
      return;
    }
    if (m.status) statuses.push(m.status);
  };
  try {
    await node.pull(ref, { ...(v.platform ? { platform: v.platform } : {}), ...(registryAuth ? { registryAuth } : {}), onMessage });
  } catch (e) {
    progress.done();
    cliError(e);
  }
  progress.done();
  if (v.quiet) console.log(name ?? ref);
  else for (const s of statuses) console.log(s);
}
