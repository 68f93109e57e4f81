/** What the registry's writers (resources.ts, deletion.ts) share: store keys, conflicts, finalizers. */
import { resourceOf, type KindInfo } from '../api/kind.js';
import type { ApiObject } from '../api/meta.js';
import type { ObjectKey } from '../store/types.js';
import type { RestStrategy } from './strategy.js';

/** How often a write retries when the store's compare-and-swap lost to another writer. */
export const MAX_WRITE_ATTEMPTS = 5;

export const MODIFIED = 'the object has been modified; please apply your changes to the latest version and try again';

/** Thrown inside a write when the store's compare-and-swap lost; callers retry or report 409. */
export class ApiConflictRetry extends Error {}

export function keyOf(kind: KindInfo, namespace: string, name: string): ObjectKey {
  return { resource: resourceOf(kind), namespace: kind.namespaced ? namespace : '', name };
}

/** Whether anything still holds `obj` once it is deleted: metadata.finalizers, or the kind's own. */
export function finalizersPending(obj: ApiObject, strategy: RestStrategy): boolean {
  return (obj.metadata.finalizers ?? []).length > 0 || strategy.extraFinalizers(obj).length > 0;
}
