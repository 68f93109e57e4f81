/** How API objects map onto names and labels in the node's runtime. */
import { createHash } from 'node:crypto';

export const CONTAINER_FINALIZER = 'berth.dev/container';
export const VOLUME_FINALIZER = 'berth.dev/volume';
/** Held by an Image until its ref is removed from its node's runtime. */
export const IMAGE_FINALIZER = 'berth.dev/image';

/** Held by a Network until no container uses it and its bridge is gone from this node. */
export const NETWORK_FINALIZER = 'berth.dev/network';

/** Labels the agent stores on each runtime container, so a restarted agent finds its objects again. */
export const LABEL_UID = 'berth.dev/uid';
export const LABEL_NAMESPACE = 'berth.dev/namespace';
export const LABEL_NAME = 'berth.dev/name';
export const LABEL_SPEC_HASH = 'berth.dev/spec-hash';

/** Runtime names allow [a-zA-Z0-9_.-]; API names are DNS subdomains, so "_" cannot clash. */
export const runtimeContainerName = (namespace: string, name: string): string => `${namespace}_${name}`;
export const runtimeVolumeName = (namespace: string, name: string): string => `${namespace}_${name}`;
export const runtimeNetworkName = (namespace: string, name: string): string => `${namespace}_${name}`;
/** The runtime name of the node's default network (no "_": it cannot clash with a Network's). */
export const DEFAULT_NETWORK = 'bridge';

export const objectKey = (namespace: string | undefined, name: string): string => (namespace ? `${namespace}/${name}` : name);

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** JSON with sorted keys, so equal values hash equally. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Fields of a Container spec that the agent changes in place; every other field needs a new runtime container. */
const IN_PLACE = new Set(['state', 'restartPolicy', 'nodeName', 'nodeSelector', 'stopGracePeriodSeconds']);

/**
 * Of spec.networks only the first counts (the container's eth0, with its published ports): the others are
 * joined and left in place (docker network connect/disconnect). A spec with one network or none hashes as
 * it did before that.
 */
export function specHash(spec: Record<string, unknown>): string {
  const fixed: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(spec)) if (!IN_PLACE.has(k)) fixed[k] = v;
  if (Array.isArray(fixed.networks) && fixed.networks.length > 1) fixed.networks = fixed.networks.slice(0, 1);
  return createHash('sha256').update(canonicalJson(fixed)).digest('hex').slice(0, 16);
}
