/**
 * DELETE of one object, with Kubernetes semantics: preconditions, the garbage collector's finalizers
 * by propagation policy ('orphan' for Orphan, 'foregroundDeletion' for Foreground; the collector
 * does the rest and drops them), and the kind's strategy (which finalizers hold the object). An
 * object nothing holds goes at once; otherwise it gets deletionTimestamp and goes when the last
 * finalizer is dropped (resources.ts, on that write).
 */
import type { KindInfo } from '../api/kind.js';
import type { ApiObject } from '../api/meta.js';
import { ConflictError, NotFoundError, type Store } from '../store/types.js';
import { clone, deepEqual, nowRfc3339 } from './objects.js';
import { finalizersPending, keyOf, MAX_WRITE_ATTEMPTS, MODIFIED } from './registry-common.js';
import { errors, successStatus, type StatusObject } from './status.js';
import type { StrategyRegistry } from './strategy.js';

/** Held by the garbage collector until the dependents no longer point to the object. */
export const ORPHAN_FINALIZER = 'orphan';
/** Held by the garbage collector until the dependents are gone. */
export const FOREGROUND_FINALIZER = 'foregroundDeletion';

export type PropagationPolicy = 'Background' | 'Foreground' | 'Orphan';

export interface DeleteOptions {
  dryRun: boolean;
  /** Unset: whatever an earlier delete of the object asked stays (Background for a first one). */
  propagationPolicy?: PropagationPolicy;
  preconditions?: { uid?: string; resourceVersion?: string };
}

export type DeleteResult = { deleted: true; status: StatusObject; object: ApiObject } | { deleted: false; object: ApiObject };

/** The object's finalizers once a delete with `policy` is asked: the collector's one for the policy, and the others. */
export function gcFinalizers(current: string[], policy: PropagationPolicy | undefined): string[] {
  if (policy === undefined) return [...current];
  const rest = current.filter((f) => f !== ORPHAN_FINALIZER && f !== FOREGROUND_FINALIZER);
  if (policy === 'Orphan') rest.push(ORPHAN_FINALIZER);
  if (policy === 'Foreground') rest.push(FOREGROUND_FINALIZER);
  return rest;
}

export function deletedStatus(kind: KindInfo, obj: ApiObject): StatusObject {
  return successStatus({ name: obj.metadata.name, group: kind.group, kind: kind.plural, ...(obj.metadata.uid ? { uid: obj.metadata.uid } : {}) });
}

export class Deletions {
  constructor(
    private readonly store: Store,
    private readonly strategies: StrategyRegistry,
  ) {}

  async delete(kind: KindInfo, namespace: string, name: string, opts: DeleteOptions): Promise<DeleteResult> {
    const strategy = this.strategies.for(kind);
    const key = keyOf(kind, namespace, name);
    for (let attempt = 1; ; attempt++) {
      const old = await this.store.get(key);
      if (!old) throw errors.notFound(kind, name);
      checkPreconditions(kind, old, opts.preconditions);
      const next = clone(old);
      const finalizers = gcFinalizers(old.metadata.finalizers ?? [], opts.propagationPolicy);
      if (finalizers.length > 0) next.metadata.finalizers = finalizers;
      else delete next.metadata.finalizers;
      strategy.prepareForDelete(next);
      const pending = finalizersPending(next, strategy);
      if (pending) {
        next.metadata.deletionTimestamp ??= nowRfc3339();
        next.metadata.deletionGracePeriodSeconds ??= 0;
        if (deepEqual(next, old)) return { deleted: false, object: old };
      }
      if (opts.dryRun) return pending ? { deleted: false, object: next } : { deleted: true, object: old, status: deletedStatus(kind, old) };
      try {
        if (pending) return { deleted: false, object: await this.store.update(key, next, old.metadata.resourceVersion ?? '') };
        const gone = await this.store.delete(key, old.metadata.resourceVersion);
        return { deleted: true, object: gone, status: deletedStatus(kind, gone) };
      } catch (err) {
        if (err instanceof ConflictError && attempt < MAX_WRITE_ATTEMPTS) continue;
        if (err instanceof NotFoundError) throw errors.notFound(kind, name);
        if (err instanceof ConflictError) throw errors.conflict(kind, name, MODIFIED);
        throw err;
      }
    }
  }
}

function checkPreconditions(kind: KindInfo, old: ApiObject, pre: DeleteOptions['preconditions']): void {
  const m = old.metadata;
  if (pre?.uid && pre.uid !== m.uid) {
    throw errors.conflict(kind, m.name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${m.uid ?? ''}`);
  }
  if (pre?.resourceVersion && pre.resourceVersion !== m.resourceVersion) {
    throw errors.conflict(kind, m.name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${m.resourceVersion ?? ''}`);
  }
}
