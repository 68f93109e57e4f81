/** `berth run` and `berth build` pull a missing image as docker does (--pull missing|always|never). */
import type { JsonMessage } from '../../api/node-api.js';
import { notFound } from '../../client/docker/names.js';
import type { NodeApiClient } from '../../client/node-api.js';
import { RawRequestError } from '../../client/raw-request.js';
import { CredentialsFile, registryOf } from '../../client/registry-credentials.js';
import { layerProgress } from '../commands/node.js';

export type PullPolicy = 'missing' | 'always' | 'never';

export async function imagePresent(node: NodeApiClient, ref: string): Promise<boolean> {
  try {
    await node.inspectImage(ref);
    return true;
  } catch (e) {
    if (e instanceof RawRequestError && e.code === 404) return false;
    throw e;
  }
}

/** Docker's short form of a reference for messages: busybox → busybox:latest. */
export function withTag(ref: string): string {
  const last = ref.slice(ref.lastIndexOf('/') + 1);
  return ref.includes('@') || last.includes(':') ? ref : `${ref}:latest`;
}

export async function ensureImage(node: NodeApiClient, ref: string, policy: PullPolicy = 'missing'): Promise<void> {
  if (policy !== 'always' && (await imagePresent(node, ref))) return;
  if (policy === 'never') throw notFound(`No such image: ${withTag(ref)}`);
  if (policy === 'missing') process.stderr.write(`Unable to find image '${withTag(ref)}' locally\n`);
  let registryAuth: string | undefined;
  try {
    registryAuth = await new CredentialsFile().registryAuth(registryOf(ref));
  } catch {
    registryAuth = undefined;
  }
  const progress = layerProgress();
  const statuses: string[] = [];
  try {
    await node.pull(ref, {
      ...(registryAuth ? { registryAuth } : {}),
      onMessage: (m: JsonMessage) => {
        if (m.id && !m.status?.startsWith('Pulling from')) progress.onLayer(m);
        else if (m.status) statuses.push(m.status);
      },
    });
  } finally {
    progress.done();
  }
  for (const s of statuses) process.stderr.write(`${s}\n`);
}
