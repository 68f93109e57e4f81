/**
 * Field sets for managedFields, in the FieldsV1 shape Kubernetes uses:
 * {"f:spec":{"f:image":{}}, "f:env":{"k:{\"name\":\"A\"}":{".":{},"f:value":{}}}}.
 * A set is held as a Set of path keys (JSON arrays of segments) so set algebra stays simple.
 * Lists are atomic (one leaf) unless the kind names their merge keys in listMapKeys.
 */
import { isObject, type JsonObject } from './objects.js';

export type Segment = string; // 'f:name' | 'k:{"name":"x"}' | '.'
export type FieldSet = Set<string>;
export type ListMapKeys = Record<string, string[]>;

const SERVER_OWNED_META = new Set([
  'name',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'managedFields',
  'generateName',
]);

export const keyOf = (segs: Segment[]): string => JSON.stringify(segs);
export const segsOf = (key: string): Segment[] => JSON.parse(key) as Segment[];

function dotted(segs: Segment[]): string {
  return segs
    .filter((s) => s.startsWith('f:'))
    .map((s) => s.slice(2))
    .join('.');
}

export function itemKey(item: JsonObject, keys: string[]): Segment {
  const k: JsonObject = {};
  for (const name of keys) k[name] = item[name];
  return `k:${JSON.stringify(k)}`;
}

/** Every field path a value sets. `top` skips fields the server owns. */
export function fieldsOf(value: unknown, listMapKeys: ListMapKeys, opts: { includeStatus: boolean }): FieldSet {
  const out: FieldSet = new Set();
  const walk = (v: unknown, segs: Segment[]): void => {
    if (isObject(v) && Object.keys(v).length > 0) {
      for (const [k, child] of Object.entries(v)) {
        if (child === undefined) continue;
        if (segs.length === 0 && (k === 'apiVersion' || k === 'kind')) continue;
        if (segs.length === 0 && k === 'status' && !opts.includeStatus) continue;
        if (segs.length === 1 && segs[0] === 'f:metadata' && SERVER_OWNED_META.has(k)) continue;
        walk(child, [...segs, `f:${k}`]);
      }
      return;
    }
    const mapKeys = listMapKeys[dotted(segs)];
    if (Array.isArray(v) && mapKeys && v.every(isObject)) {
      for (const item of v as JsonObject[]) {
        const itemSegs = [...segs, itemKey(item, mapKeys)];
        out.add(keyOf([...itemSegs, '.']));
        walk(item, itemSegs);
      }
      return;
    }
    if (segs.length > 0) out.add(keyOf(segs));
  };
  walk(value, []);
  return out;
}

export function toFieldsV1(set: FieldSet): JsonObject {
  const root: JsonObject = {};
  for (const key of [...set].sort()) {
    let node = root;
    for (const s of segsOf(key)) {
      if (!isObject(node[s])) node[s] = {};
      node = node[s] as JsonObject;
    }
  }
  return root;
}

export function fromFieldsV1(fields: unknown): FieldSet {
  const out: FieldSet = new Set();
  const walk = (node: unknown, segs: Segment[]): void => {
    if (!isObject(node)) return;
    const entries = Object.entries(node);
    if (entries.length === 0 && segs.length > 0) out.add(keyOf(segs));
    for (const [k, child] of entries) walk(child, [...segs, k]);
  };
  walk(fields, []);
  return out;
}

/** Locate the container that holds the last segment: returns [parent, index-or-key] or undefined. */
function locate(obj: unknown, segs: Segment[], listMapKeys: ListMapKeys): { parent: unknown; at: string | number } | undefined {
  let cur: unknown = obj;
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    const last = i === segs.length - 1;
    let next: { parent: unknown; at: string | number } | undefined;
    if (s.startsWith('f:')) {
      if (!isObject(cur)) return undefined;
      next = { parent: cur, at: s.slice(2) };
    } else if (s.startsWith('k:')) {
      if (!Array.isArray(cur)) return undefined;
      const want = JSON.parse(s.slice(2)) as JsonObject;
      const keys = listMapKeys[dotted(segs.slice(0, i))] ?? Object.keys(want);
      const idx = cur.findIndex((item) => isObject(item) && itemKey(item, keys) === s);
      if (idx < 0) return undefined;
      next = { parent: cur, at: idx };
    } else {
      return undefined;
    }
    if (last) return next;
    cur = (next.parent as Record<string | number, unknown>)[next.at];
  }
  return undefined;
}

export function valueAt(obj: unknown, segs: Segment[], listMapKeys: ListMapKeys): unknown {
  const path = segs[segs.length - 1] === '.' ? segs.slice(0, -1) : segs;
  const loc = locate(obj, path, listMapKeys);
  return loc ? (loc.parent as Record<string | number, unknown>)[loc.at] : undefined;
}

/** Remove the field (or list item, for a '.' path) from obj in place. */
export function removeAt(obj: unknown, segs: Segment[], listMapKeys: ListMapKeys): void {
  const path = segs[segs.length - 1] === '.' ? segs.slice(0, -1) : segs;
  const loc = locate(obj, path, listMapKeys);
  if (!loc) return;
  if (Array.isArray(loc.parent)) loc.parent.splice(loc.at as number, 1);
  else delete (loc.parent as JsonObject)[loc.at as string];
}

/** Render a path for humans as kubectl shows it: .spec.env[name="A"].value */
export function describePath(segs: Segment[]): string {
  let out = '';
  for (const s of segs) {
    if (s.startsWith('f:')) out += `.${s.slice(2)}`;
    else if (s.startsWith('k:')) {
      const k = JSON.parse(s.slice(2)) as JsonObject;
      out += `[${Object.entries(k).map(([n, v]) => `${n}=${JSON.stringify(v)}`).join(',')}]`;
    }
  }
  return out;
}

export function pathDotted(segs: Segment[]): string {
  return dotted(segs);
}
