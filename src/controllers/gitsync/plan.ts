/**
 * How a revision is applied: in steps ordered by sync wave (the berth.dev/sync-wave annotation,
 * 0 by default), then by kind (Namespaces, Secrets, Volumes, Networks, Images, Containers, then the
 * rest), each step waiting for the health of the one before; and what a sync prunes (inventory
 * entries, by uid, whose object left git), in the reverse order, with the mass-prune guard.
 */
import type { InventoryEntry } from '../../api/gitsync.js';
import { KIND_ORDER, objectKey, type DesiredObject } from '../../client/gitops/render.js';
import { resourceTypeFor } from '../../client/kinds.js';

export function kindRank(kind: string): number {
  const i = KIND_ORDER.indexOf(kind);
  return i < 0 ? KIND_ORDER.length : i;
}

/** The steps of a sync: objects grouped by (wave, kind rank), in apply order; names sorted inside. */
export function stepsOf(objs: DesiredObject[]): DesiredObject[][] {
  const groups = new Map<string, { wave: number; rank: number; objs: DesiredObject[] }>();
  for (const d of objs) {
    const rank = kindRank(d.type.kind);
    const id = `${d.wave}|${rank}`;
    let g = groups.get(id);
    if (!g) groups.set(id, (g = { wave: d.wave, rank, objs: [] }));
    g.objs.push(d);
  }
  return [...groups.values()]
    .sort((a, b) => a.wave - b.wave || a.rank - b.rank)
    .map((g) => g.objs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)));
}

export function entryKey(e: InventoryEntry): string {
  const type = resourceTypeFor(e.apiVersion, e.kind);
  return objectKey({ group: type?.group ?? e.apiVersion.split('/')[0] ?? '', kind: e.kind }, e.namespace, e.name);
}

/** Inventory entries whose object is not in `desired` (left git), Containers first, Namespaces last. */
export function leftGit(inventory: InventoryEntry[], desired: DesiredObject[]): InventoryEntry[] {
  const keep = new Set(desired.map((d) => d.key));
  return inventory.filter((e) => !keep.has(entryKey(e))).sort((a, b) => kindRank(b.kind) - kindRank(a.kind) || a.name.localeCompare(b.name));
}

/** Whether pruning `count` of an inventory of `size` is a mass prune (more than half of it). */
export function isMassPrune(count: number, size: number): boolean {
  return count > 0 && count * 2 > size;
}

export function describeEntry(e: InventoryEntry): string {
  return `${e.kind} ${e.namespace ? `${e.namespace}/` : ''}${e.name}`;
}
