/** JSON merge patch (RFC 7386), JSON patch (RFC 6902) and a strategic merge patch for list-map fields. */
import fastJsonPatch from 'fast-json-patch';
import type { ListMapKeys } from './fieldset.js';
import { clone, deepEqual, isObject, type JsonObject } from './objects.js';
import { errors } from './status.js';

const { applyPatch, validate } = fastJsonPatch;

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

export function patchTypeOf(contentType: string): PatchType | undefined {
  const t = contentType.split(';')[0]!.trim().toLowerCase();
  switch (t) {
    case 'application/json-patch+json':
      return 'json';
    case 'application/merge-patch+json':
      return 'merge';
    case 'application/strategic-merge-patch+json':
      return 'strategic';
    case 'application/apply-patch+yaml':
    case 'application/apply-patch+json':
      return 'apply';
    default:
      return undefined;
  }
}

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export function jsonPatch(target: JsonObject, ops: unknown): JsonObject {
  if (!Array.isArray(ops)) throw errors.badRequest('json patch must be an array of operations');
  const doc = clone(target);
  let problem: ReturnType<typeof validate>;
  try {
    problem = validate(ops as fastJsonPatch.Operation[], doc);
  } catch (err) {
    // fast-json-patch's validation itself fails on some sequences (an operation after one that removed the root)
    throw errors.badRequest(`invalid json patch: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
  if (problem) throw errors.badRequest(`invalid json patch: ${problem.message.split('\n')[0]} (operation ${problem.index})`);
  try {
    return applyPatch(doc, ops as fastJsonPatch.Operation[], false, true).newDocument as JsonObject;
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw errors.badRequest(`json patch failed: ${msg}`);
  }
}

/**
 * Strategic merge patch as kubectl sends it: a merge patch where list-map fields merge by key,
 * with the `$patch: delete|replace` and `$setElementOrder`/`$retainKeys` directives understood.
 */
export function strategicMergePatch(target: unknown, patch: unknown, listMapKeys: ListMapKeys, path = ''): unknown {
  if (!isObject(patch)) return clone(patch);
  if (patch.$patch === 'replace') {
    const rest = { ...patch };
    delete rest.$patch;
    return clone(rest);
  }
  if (patch.$patch === 'delete') return undefined;
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue;
    const childPath = path ? `${path}.${k}` : k;
    const keys = listMapKeys[childPath];
    if (v === null) delete out[k];
    else if (Array.isArray(v) && keys && Array.isArray(out[k])) {
      const list = [...(out[k] as unknown[])];
      for (const item of v) {
        if (!isObject(item)) continue;
        const idx = list.findIndex((t) => isObject(t) && keys.every((kk) => deepEqual(t[kk], item[kk])));
        const merged = strategicMergePatch(idx >= 0 ? list[idx] : undefined, item, listMapKeys, childPath);
        if (idx >= 0) {
          if (merged === undefined) list.splice(idx, 1);
          else list[idx] = merged;
        } else if (merged !== undefined) list.push(merged);
      }
      out[k] = list;
    } else {
      const merged = strategicMergePatch(out[k], v, listMapKeys, childPath);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    }
  }
  for (const [k, v] of Object.entries(patch)) {
    if (!k.startsWith('$deleteFromPrimitiveList/') || !Array.isArray(v)) continue;
    const field = k.slice('$deleteFromPrimitiveList/'.length);
    if (Array.isArray(out[field])) out[field] = (out[field] as unknown[]).filter((x) => !v.some((d) => deepEqual(d, x)));
  }
  return out;
}
