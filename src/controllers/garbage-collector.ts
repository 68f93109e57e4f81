/**
 * The garbage collector, as Kubernetes' (an API client with informers on every kind):
 *
 * - background cascading deletion: an object whose ownerReferences all name owners that are gone
 *   (no object with that uid) is deleted; references to some gone owners among live ones are dropped;
 * - foreground deletion: an owner being deleted with the `foregroundDeletion` finalizer has its
 *   dependents deleted, and loses the finalizer (so goes) once none is left;
 * - orphaning: an owner being deleted with the `orphan` finalizer (propagationPolicy=Orphan) has its
 *   ownerReference removed from every dependent, then loses the finalizer.
 *
 * "Gone" is never decided from a cache alone: an owner missing from the informers is looked up live
 * (it may have been created a moment ago), as the Kubernetes collector does. Events are not watched:
 * they own nothing and would only add churn.
 */
import { isNotFound, type KObject, type OwnerReference, type ResourceClient, type ResourceType } from '../client/api-client.js';
import { setFinalizer } from '../client/finalizers.js';
import { Controller } from '../client/controller.js';
import { keyOf, splitKey, type Informer } from '../client/informer.js';
import { allResourceTypes, resourceTypeFor } from '../client/kinds.js';
import type { ControllerContext, RunnableController } from './context.js';

export const FOREGROUND_FINALIZER = 'foregroundDeletion';
export const ORPHAN_FINALIZER = 'orphan';
const MANAGER = 'berth-garbage-collector';

const typeKey = (t: ResourceType): string => `${t.plural}.${t.group || 'core'}`;

interface Watched {
  type: ResourceType;
  resource: ResourceClient;
  informer: Informer;
}

export class GarbageCollector implements RunnableController {
  readonly name = 'garbage_collector';
  private readonly controller: Controller;
  private readonly watched = new Map<string, Watched>();

  constructor(
    private readonly ctx: ControllerContext,
    types: readonly ResourceType[] = allResourceTypes.filter((t) => !(t.group === '' && t.kind === 'Event')),
  ) {
    this.controller = new Controller({ name: this.name, reconcile: (k) => this.reconcile(k), concurrency: 2, resyncMs: 5 * 60_000, log: ctx.log });
    for (const type of types) {
      const resource = ctx.client.resource(type);
      const informer = ctx.informers.for(resource);
      informer.addIndex('owner', (o) => (o.metadata.ownerReferences ?? []).map((r) => r.uid));
      informer.addIndex('uid', (o) => (o.metadata.uid ? [o.metadata.uid] : []));
      this.watched.set(typeKey(type), { type, resource, informer });
      const tk = typeKey(type);
      this.controller.watch(informer, {
        map: (obj, event) => {
          const keys: string[] = [];
          const m = obj.metadata;
          const interesting = (m.ownerReferences?.length ?? 0) > 0 || m.finalizers?.includes(ORPHAN_FINALIZER) || m.finalizers?.includes(FOREGROUND_FINALIZER);
          if (interesting && event !== 'delete') keys.push(`${tk}|${keyOf(obj)}`);
          // an owner gone or going: look at its dependents; a dependent gone: its going owners may finish
          if ((event === 'delete' || m.deletionTimestamp) && event !== 'resync') keys.push(...this.dependentsOf(m.uid ?? ''));
          if (event === 'delete') for (const r of m.ownerReferences ?? []) keys.push(...this.ownerKeys(r));
          return keys;
        },
      });
    }
  }

  async start(): Promise<void> {
    await this.controller.start();
  }

  async stop(): Promise<void> {
    await this.controller.stop();
  }

  private dependentsOf(uid: string): string[] {
    if (!uid) return [];
    const out: string[] = [];
    for (const [tk, w] of this.watched) for (const d of w.informer.byIndex('owner', uid)) out.push(`${tk}|${keyOf(d)}`);
    return out;
  }

  private ownerKeys(ref: OwnerReference): string[] {
    const type = resourceTypeFor(ref.apiVersion, ref.kind);
    const w = type && this.watched.get(typeKey(type));
    if (!w) return [];
    return w.informer.byIndex('uid', ref.uid).map((o) => `${typeKey(type)}|${keyOf(o)}`);
  }

  private async reconcile(key: string): Promise<void> {
    const bar = key.indexOf('|');
    const w = this.watched.get(key.slice(0, bar));
    if (!w) return;
    const { namespace, name } = splitKey(key.slice(bar + 1));
    const obj = w.informer.get(namespace || undefined, name);
    if (!obj) return;
    const fin = obj.metadata.finalizers ?? [];
    if (obj.metadata.deletionTimestamp && fin.includes(ORPHAN_FINALIZER)) return this.orphan(w, obj);
    if (obj.metadata.deletionTimestamp && fin.includes(FOREGROUND_FINALIZER)) await this.foreground(w, obj);
    if ((obj.metadata.ownerReferences?.length ?? 0) > 0) await this.checkOwners(w, obj);
  }

  /** Drop the reference to `owner` from each dependent, then the owner's `orphan` finalizer. */
  private async orphan(w: Watched, owner: KObject): Promise<void> {
    const uid = owner.metadata.uid ?? '';
    for (const [, dw] of this.watched) {
      for (const d of dw.informer.byIndex('owner', uid)) {
        const refs = d.metadata.ownerReferences ?? [];
        await dw.resource
          .patch(d.metadata.namespace, d.metadata.name, [
            { op: 'test', path: '/metadata/uid', value: d.metadata.uid },
            { op: 'replace', path: '/metadata/ownerReferences', value: refs.filter((r) => r.uid !== uid) },
          ], { type: 'json', fieldManager: MANAGER })
          .catch(ignoreNotFound);
      }
    }
    await this.dropFinalizer(w, owner, ORPHAN_FINALIZER);
  }

  /** Delete the dependents; once none is left, the owner may go. */
  private async foreground(w: Watched, owner: KObject): Promise<void> {
    const uid = owner.metadata.uid ?? '';
    let remaining = 0;
    for (const [, dw] of this.watched) {
      for (const d of dw.informer.byIndex('owner', uid)) {
        remaining++;
        if (d.metadata.deletionTimestamp) continue;
        await dw.resource.delete(d.metadata.namespace, d.metadata.name, { propagationPolicy: 'Background', preconditions: { uid: d.metadata.uid ?? '' } }).catch(ignoreGone);
      }
    }
    // the dependents' DELETED events bring this key back; the finalizer goes when the last is gone
    if (remaining === 0) await this.dropFinalizer(w, owner, FOREGROUND_FINALIZER);
  }

  /** An object whose owners are all gone is deleted; references to gone owners among live ones are dropped. */
  private async checkOwners(w: Watched, obj: KObject): Promise<void> {
    if (obj.metadata.deletionTimestamp) return;
    const refs = obj.metadata.ownerReferences ?? [];
    const gone: OwnerReference[] = [];
    let waitingForeground = 0;
    for (const ref of refs) {
      const state = await this.ownerState(ref, obj.metadata.namespace);
      if (state === 'absent') gone.push(ref);
      else if (state === 'foreground') waitingForeground++;
    }
    if (gone.length === refs.length || (gone.length + waitingForeground === refs.length && waitingForeground > 0)) {
      await w.resource.delete(obj.metadata.namespace, obj.metadata.name, { propagationPolicy: 'Background', preconditions: { uid: obj.metadata.uid ?? '' } }).catch(ignoreGone);
      return;
    }
    if (gone.length > 0) {
      const goneUids = new Set(gone.map((r) => r.uid));
      await w.resource
        .patch(obj.metadata.namespace, obj.metadata.name, [
          { op: 'test', path: '/metadata/resourceVersion', value: obj.metadata.resourceVersion },
          { op: 'replace', path: '/metadata/ownerReferences', value: refs.filter((r) => !goneUids.has(r.uid)) },
        ], { type: 'json', fieldManager: MANAGER })
        .catch(ignoreGone);
    }
  }

  /** Whether an owner exists (by uid), is being deleted in the foreground, or is absent — checked live when the cache lacks it. */
  private async ownerState(ref: OwnerReference, namespace: string | undefined): Promise<'present' | 'foreground' | 'absent'> {
    const type = resourceTypeFor(ref.apiVersion, ref.kind);
    const w = type && this.watched.get(typeKey(type));
    // an owner of a kind this server does not serve cannot be checked: leave the dependent alone
    if (!type || !w) return 'present';
    let owner: KObject | undefined = w.informer.byIndex('uid', ref.uid)[0];
    if (!owner) {
      const live = await w.resource.getIfExists(type.namespaced ? namespace : undefined, ref.name);
      owner = live && live.metadata.uid === ref.uid ? live : undefined;
    }
    if (!owner) return 'absent';
    return owner.metadata.deletionTimestamp && owner.metadata.finalizers?.includes(FOREGROUND_FINALIZER) ? 'foreground' : 'present';
  }

  private dropFinalizer(w: Watched, obj: KObject, finalizer: string): Promise<void> {
    return setFinalizer(w.resource, obj, finalizer, false, MANAGER);
  }
}

/** Already gone is what was wanted. */
function ignoreNotFound(err: unknown): void {
  if (!isNotFound(err)) throw err;
}

/** Gone, or replaced by a new object of that name (the uid precondition failed): nothing to collect. */
function ignoreGone(err: unknown): void {
  const code = (err as { code?: number })?.code;
  if (code !== 404 && code !== 409 && code !== 422) throw err;
}
