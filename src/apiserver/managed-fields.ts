/**
 * managedFields bookkeeping: Update operations take ownership of the fields they change;
 * server-side Apply owns exactly the fields of the applied configuration, removes the fields it
 * stopped applying (when nobody else owns them) and reports conflicts with other managers.
 */
import type { ManagedFieldsEntry } from '../api/meta.js';
import {
  describePath,
  fieldsOf,
  fromFieldsV1,
  removeAt,
  segsOf,
  toFieldsV1,
  valueAt,
  type FieldSet,
  type ListMapKeys,
} from './fieldset.js';
import { clone, deepEqual, isObject, nowRfc3339, type JsonObject } from './objects.js';

export interface FieldOwner {
  manager: string;
  operation: 'Apply' | 'Update';
  subresource?: string;
}

export interface Conflict {
  manager: string;
  path: string;
}

interface Owned {
  entry: ManagedFieldsEntry;
  set: FieldSet;
}

const sameOwner = (e: ManagedFieldsEntry, o: FieldOwner): boolean =>
  (e.manager ?? '') === o.manager && e.operation === o.operation && (e.subresource ?? '') === (o.subresource ?? '');

function entriesOf(obj: JsonObject | undefined): Owned[] {
  const meta = obj?.metadata;
  const list = isObject(meta) && Array.isArray(meta.managedFields) ? (meta.managedFields as ManagedFieldsEntry[]) : [];
  return list.map((entry) => ({ entry, set: fromFieldsV1(entry.fieldsV1) }));
}

function render(owned: Owned[], apiVersion: string): ManagedFieldsEntry[] {
  return owned
    .filter((o) => o.set.size > 0)
    .map((o) => ({
      ...o.entry,
      apiVersion,
      fieldsType: 'FieldsV1',
      fieldsV1: toFieldsV1(o.set),
    }));
}

function withOwner(owned: Owned[], owner: FieldOwner, apiVersion: string): Owned {
  let mine = owned.find((o) => sameOwner(o.entry, owner));
  if (!mine) {
    mine = {
      entry: {
        manager: owner.manager,
        operation: owner.operation,
        apiVersion,
        ...(owner.subresource ? { subresource: owner.subresource } : {}),
      },
      set: new Set(),
    };
    owned.push(mine);
  }
  return mine;
}

/** managedFields after a non-apply write from `owner` turned `before` into `after`. */
export function recordUpdate(
  before: JsonObject | undefined,
  after: JsonObject,
  owner: FieldOwner,
  listMapKeys: ListMapKeys,
  apiVersion: string,
): ManagedFieldsEntry[] {
  const includeStatus = owner.subresource === 'status';
  const oldSet = before ? fieldsOf(before, listMapKeys, { includeStatus }) : new Set<string>();
  const newSet = fieldsOf(after, listMapKeys, { includeStatus });
  const changed = [...newSet].filter(
    (p) => !oldSet.has(p) || !deepEqual(valueAt(before, segsOf(p), listMapKeys), valueAt(after, segsOf(p), listMapKeys)),
  );
  const removed = [...oldSet].filter((p) => !newSet.has(p));
  const owned = entriesOf(before);
  for (const o of owned) {
    for (const p of removed) o.set.delete(p);
    if (!sameOwner(o.entry, owner)) for (const p of changed) o.set.delete(p);
  }
  if (changed.length > 0) {
    const mine = withOwner(owned, owner, apiVersion);
    for (const p of changed) mine.set.add(p);
    mine.entry = { ...mine.entry, time: nowRfc3339() };
  }
  return render(owned, apiVersion);
}

function mergeInto(target: unknown, src: unknown, listMapKeys: ListMapKeys, path: string): unknown {
  if (isObject(src)) {
    const out: JsonObject = isObject(target) ? { ...target } : {};
    for (const [k, v] of Object.entries(src)) {
      if (v === null) delete out[k];
      else out[k] = mergeInto(out[k], v, listMapKeys, path ? `${path}.${k}` : k);
    }
    return out;
  }
  const keys = listMapKeys[path];
  if (Array.isArray(src) && keys && Array.isArray(target)) {
    const out = [...target];
    for (const item of src) {
      const idx = isObject(item) ? out.findIndex((t) => isObject(t) && keys.every((k) => deepEqual(t[k], item[k]))) : -1;
      if (idx >= 0) out[idx] = mergeInto(out[idx], item, listMapKeys, path);
      else out.push(clone(item));
    }
    return out;
  }
  return clone(src);
}

/** After a removal, drop the lists and objects it left empty (the applier no longer sets them). */
function pruneEmptied(obj: JsonObject, segs: string[], listMapKeys: ListMapKeys): void {
  const path = segs[segs.length - 1] === '.' ? segs.slice(0, -1) : segs;
  for (let i = path.length - 1; i >= 1; i--) {
    const parent = path.slice(0, i);
    const v = valueAt(obj, parent, listMapKeys);
    const empty = (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0);
    if (!empty) return;
    removeAt(obj, parent, listMapKeys);
  }
}

export interface ApplyResult {
  object: JsonObject;
  conflicts: Conflict[];
}

/**
 * Server-side apply of `applied` by `manager` onto `live` (undefined when creating).
 * With conflicts and no force, returns them and leaves the result unset by the caller.
 */
export function serverSideApply(
  live: JsonObject | undefined,
  applied: JsonObject,
  owner: Omit<FieldOwner, 'operation'>,
  force: boolean,
  listMapKeys: ListMapKeys,
  apiVersion: string,
): ApplyResult {
  const me: FieldOwner = { ...owner, operation: 'Apply' };
  const includeStatus = owner.subresource === 'status';
  const appliedSet = fieldsOf(applied, listMapKeys, { includeStatus });
  const owned = entriesOf(live);
  const others = owned.filter((o) => !sameOwner(o.entry, me));
  const prevSet = owned.find((o) => sameOwner(o.entry, me))?.set ?? new Set<string>();

  const conflicts: Conflict[] = [];
  if (live) {
    for (const p of appliedSet) {
      const segs = segsOf(p);
      if (segs[segs.length - 1] === '.') continue;
      const current = valueAt(live, segs, listMapKeys);
      if (current === undefined || deepEqual(current, valueAt(applied, segs, listMapKeys))) continue;
      for (const o of others) if (o.set.has(p)) conflicts.push({ manager: o.entry.manager ?? '', path: describePath(segs) });
    }
  }
  if (conflicts.length > 0 && !force) return { object: live ?? {}, conflicts };
  if (force) {
    for (const o of others) for (const p of appliedSet) if (o.set.has(p)) {
      const segs = segsOf(p);
      if (!deepEqual(valueAt(live, segs, listMapKeys), valueAt(applied, segs, listMapKeys))) o.set.delete(p);
    }
  }

  let result: JsonObject = live ? clone(live) : {};
  const ownedByOthers = (p: string): boolean => {
    const prefix = p.endsWith(',"."]') ? p.slice(0, -5) : undefined;
    return others.some((o) => o.set.has(p) || (prefix !== undefined && [...o.set].some((q) => q.startsWith(prefix))));
  };
  const dropped = [...prevSet].filter((p) => !appliedSet.has(p) && !ownedByOthers(p));
  // A list item that goes takes its fields with it; removing those first would lose its key.
  const goneItems = dropped.filter((p) => p.endsWith(',"."]')).map((p) => p.slice(0, -5));
  const leaves = dropped.filter((p) => !p.endsWith(',"."]') && !goneItems.some((item) => p.startsWith(item)));
  for (const p of leaves) removeAt(result, segsOf(p), listMapKeys);
  for (const item of goneItems) removeAt(result, segsOf(`${item},"."]`), listMapKeys);
  for (const p of dropped) pruneEmptied(result, segsOf(p), listMapKeys);
  result = mergeInto(result, applied, listMapKeys, '') as JsonObject;

  const mine: Owned = {
    entry: { manager: owner.manager, operation: 'Apply', apiVersion, time: nowRfc3339(), ...(owner.subresource ? { subresource: owner.subresource } : {}) },
    set: appliedSet,
  };
  const meta = isObject(result.metadata) ? result.metadata : {};
  result.metadata = { ...meta, managedFields: render([...others, mine], apiVersion) };
  return { object: result, conflicts };
}

export function conflictMessage(conflicts: Conflict[], apiVersion: string): string {
  const n = conflicts.length;
  const lines = conflicts.map((c) => `conflict with "${c.manager}" using ${apiVersion}: ${c.path}`);
  return n === 1 ? `Apply failed with 1 conflict: ${lines[0]}` : `Apply failed with ${n} conflicts: ${lines.join('\n')}`;
}
