import { apiVersionOf, resourceOf, type KindInfo } from './kind.js';
import { containerKind } from './container.js';
import { eventKind } from './event.js';
import { gitSyncKind } from './gitsync.js';
import { imageKind } from './image.js';
import { namespaceKind } from './namespace.js';
import { networkKind } from './network.js';
import { nodeKind } from './node.js';
import { rbacKinds } from './rbac.js';
import { secretKind } from './secret.js';
import { volumeKind } from './volume.js';

/** Every kind the API serves: the berth.dev group first, then the core ones, then RBAC's. */
export const kinds: KindInfo[] = [imageKind, containerKind, volumeKind, networkKind, nodeKind, gitSyncKind, namespaceKind, eventKind, secretKind, ...rbacKinds];

/** Kinds of one API group ('' for core). */
export function kindsInGroup(group: string): KindInfo[] {
  return kinds.filter((k) => k.group === group);
}

export function kindByGroupPlural(group: string, plural: string): KindInfo | undefined {
  return kinds.find((k) => k.group === group && k.plural === plural);
}

export function kindByGroupKind(group: string, kind: string): KindInfo | undefined {
  return kinds.find((k) => k.group === group && k.kind === kind);
}

/** By a manifest's apiVersion and kind ('berth.dev/v1alpha1', 'Container'; 'v1', 'Namespace'). */
export function kindByApiVersionKind(apiVersion: string, kind: string): KindInfo | undefined {
  return kinds.find((k) => apiVersionOf(k) === apiVersion && k.kind === kind);
}

/** By the store's resource name ('berth.dev/containers', 'core/namespaces'). */
export function kindByResource(resource: string): KindInfo | undefined {
  return kinds.find((k) => resourceOf(k) === resource);
}

/**
 * What a user types after `get`: plural, singular, short name or kind, any case, optionally
 * qualified with the group or version.group ('containers.berth.dev', 'containers.v1alpha1.berth.dev',
 * 'ctr', 'Container', 'ns').
 */
export function resolveKind(name: string): KindInfo | undefined {
  const lower = name.toLowerCase();
  const dot = lower.indexOf('.');
  const base = dot >= 0 ? lower.slice(0, dot) : lower;
  const group = dot >= 0 ? lower.slice(dot + 1) : undefined;
  const candidates =
    group === undefined
      ? kinds
      : kinds.filter((k) => k.group === group || (k.group ? `${k.version}.${k.group}` : k.version) === group);
  return candidates.find(
    (k) =>
      k.plural === base ||
      k.singular === base ||
      k.kind.toLowerCase() === base ||
      k.shortNames.includes(base),
  );
}
