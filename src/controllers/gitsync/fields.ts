/**
 * The fields a field manager owns, read from an object's managedFields (FieldsV1: {"f:spec":
 * {"f:image":{}}, "f:env":{"k:{\"name\":\"A\"}":{".":{},"f:value":{}}}}), and the values at those
 * fields. Drift is a change of these values only: what the server defaults or others own is never
 * compared, so server defaults never show as drift.
 */
import type { KObject } from '../../client/api-client.js';
import { canonicalJson } from '../../client/gitops/render.js';

export type Segment = string;

interface ManagedEntry {
  manager?: string;
  operation?: string;
  subresource?: string;
  fieldsV1?: unknown;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The leaf paths `manager` owns through Apply on the main resource (an item's "." is a path too). */
export function ownedPaths(obj: KObject, manager: string): Segment[][] {
  const entries = (obj.metadata.managedFields ?? []) as ManagedEntry[];
  const mine = entries.find((e) => e.manager === manager && e.operation === 'Apply' && !e.subresource);
  const out: Segment[][] = [];
  const walk = (node: unknown, segs: Segment[]) => {
    if (!isObj(node)) return;
    const keys = Object.keys(node);
    if (keys.length === 0 && segs.length > 0) out.push(segs);
    for (const k of keys) walk(node[k], [...segs, k]);
  };
  if (mine) walk(mine.fieldsV1, []);
  return out;
}

/** The value at `segs` (undefined when absent); for a path ending in "." whether the item exists. */
export function valueAt(obj: unknown, segs: Segment[]): unknown {
  let cur: unknown = obj;
  for (const s of segs) {
    if (s === '.') return cur === undefined ? undefined : true;
    if (s.startsWith('f:')) {
      if (!isObj(cur)) return undefined;
      cur = cur[s.slice(2)];
    } else if (s.startsWith('k:')) {
      if (!Array.isArray(cur)) return undefined;
      let want: Record<string, unknown>;
      try {
        want = JSON.parse(s.slice(2)) as Record<string, unknown>;
      } catch {
        return undefined;
      }
      cur = cur.find((item) => isObj(item) && Object.entries(want).every(([k, v]) => canonicalJson(item[k]) === canonicalJson(v)));
    } else if (s.startsWith('v:')) {
      if (!Array.isArray(cur)) return undefined;
      const want = s.slice(2);
      cur = cur.find((item) => canonicalJson(item) === want);
    } else if (s.startsWith('i:')) {
      if (!Array.isArray(cur)) return undefined;
      cur = cur[Number(s.slice(2))];
    } else return undefined;
  }
  return cur;
}

/** `.spec.env[name="A"].value`, as kubectl shows a field. */
export function describePath(segs: Segment[]): string {
  let out = '';
  for (const s of segs) {
    if (s.startsWith('f:')) out += `.${s.slice(2)}`;
    else if (s.startsWith('k:')) {
      try {
        const k = JSON.parse(s.slice(2)) as Record<string, unknown>;
        out += `[${Object.entries(k).map(([n, v]) => `${n}=${JSON.stringify(v)}`).join(',')}]`;
      } catch {
        out += `[${s.slice(2)}]`;
      }
    } else if (s.startsWith('i:')) out += `[${s.slice(2)}]`;
  }
  return out || '.';
}

/** What a manager applied, as values by path: compared later against the live object. */
export type Fingerprint = Map<string, string>;

/** The values at the paths `manager` owns in `applied` (the server's answer to an apply). */
export function fingerprintOf(applied: KObject, manager: string): Fingerprint {
  const fp: Fingerprint = new Map();
  for (const segs of ownedPaths(applied, manager)) fp.set(JSON.stringify(segs), canonicalJson(valueAt(applied, segs) ?? null));
  return fp;
}

/** The paths of `fp` whose value in `live` differs, as JSON segment arrays. */
export function driftedPaths(live: KObject, fp: Fingerprint): string[] {
  const out: string[] = [];
  for (const [path, want] of fp) {
    const segs = JSON.parse(path) as Segment[];
    if (canonicalJson(valueAt(live, segs) ?? null) !== want) out.push(path);
  }
  return out;
}

/**
 * The manager that owns `path` in `live` now (who changed it), or, for a removed field, the
 * manager of the latest Update; undefined when nobody else does.
 */
export function managerOf(live: KObject, path: string, except: string): string | undefined {
  const segs = JSON.parse(path) as Segment[];
  const entries = (live.metadata.managedFields ?? []) as (ManagedEntry & { time?: string })[];
  for (const e of entries) {
    if (e.manager === except && e.operation === 'Apply') continue;
    let node: unknown = e.fieldsV1;
    for (const s of segs) node = isObj(node) ? node[s] : undefined;
    if (node !== undefined) return e.manager;
  }
  const updates = entries.filter((e) => e.operation === 'Update' && e.manager !== except).sort((a, b) => String(b.time ?? '').localeCompare(String(a.time ?? '')));
  return updates[0]?.manager;
}
