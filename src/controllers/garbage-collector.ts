/**
 * Garbage collector: deletes objects whose owners (by uid) are all gone (background cascading
 * deletion), finishes foreground deletions, and finishes orphaning deletions (the 'orphan'
 * finalizer): drops the ownerReferences to the deleted owner from its dependents, then the finalizer.
 */
import { resourceOf, type KindInfo } from '../api/kind.js';
import type { ApiObject } from '../api/meta.js';
import { FOREGROUND_FINALIZER, ORPHAN_FINALIZER, type Resources } from '../apiserver/resources.js';
import type { Store } from '../store/types.js';
import { Sweeper } from './sweeper.js';

const MANAGER = 'berth-garbage-collector';

export class GarbageCollector {
  private readonly sweeper = new Sweeper('garbage-collector', () => this.sweep(), 30_000);

  constructor(
    private readonly store: Store,
    private readonly resources: Resources,
    private readonly kinds: KindInfo[],
  ) {}

  async start(): Promise<void> {
    const from = await this.store.revision();
    for (const kind of this.kinds) {
      await this.sweeper.pokeOn(this.store, resourceOf(kind), from, (ev) => {
        const m = ev.object.metadata;
        return ev.type === 'DELETED' || !!m.ownerReferences?.length || !!m.finalizers?.includes(FOREGROUND_FINALIZER) || !!m.finalizers?.includes(ORPHAN_FINALIZER);
      });
    }
    this.sweeper.start();
  }

  stop(): void {
    this.sweeper.stop();
  }

  idle(): Promise<void> {
    return this.sweeper.idle();
  }

  private async all(): Promise<{ kind: KindInfo; obj: ApiObject }[]> {
    const out: { kind: KindInfo; obj: ApiObject }[] = [];
    for (const kind of this.kinds) {
      const list = await this.store.list(resourceOf(kind));
      for (const obj of list.items) out.push({ kind, obj });
    }
    return out;
  }

  private async sweep(): Promise<void> {
    const objects = await this.all();
    const byUid = new Map(objects.map((o) => [o.obj.metadata.uid, o]));
    const dependents = new Map<string, number>();
    for (const { kind, obj } of objects) {
      const refs = obj.metadata.ownerReferences ?? [];
      if (refs.length === 0) continue;
      const live = refs.filter((r) => byUid.has(r.uid));
      for (const r of live) dependents.set(r.uid, (dependents.get(r.uid) ?? 0) + 1);
      const owners = live.map((r) => byUid.get(r.uid)!.obj);
      const ownersGoing = owners.length > 0 && owners.every((o) => o.metadata.finalizers?.includes(FOREGROUND_FINALIZER));
      if ((live.length === 0 || ownersGoing) && !obj.metadata.deletionTimestamp) {
        await this.deleteQuietly(kind, obj);
      }
    }
    for (const { kind, obj } of objects) {
      const m = obj.metadata;
      if (!m.deletionTimestamp || !m.finalizers?.includes(FOREGROUND_FINALIZER)) continue;
      if ((dependents.get(m.uid ?? '') ?? 0) > 0) continue;
      await this.dropFinalizer(kind, obj, FOREGROUND_FINALIZER);
    }
    for (const { kind, obj } of objects) {
      const m = obj.metadata;
      if (!m.deletionTimestamp || !m.finalizers?.includes(ORPHAN_FINALIZER)) continue;
      // The finalizer goes only once every dependent is let go, or they would be collected with their owner.
      if (await this.orphanDependents(obj, objects)) await this.dropFinalizer(kind, obj, ORPHAN_FINALIZER);
    }
  }

  /** JSON patch guarded by the resourceVersion the sweep saw; a lost race is retried on the next sweep. */
  private async dropFinalizer(kind: KindInfo, obj: ApiObject, finalizer: string): Promise<void> {
    const m = obj.metadata;
    await this.resources
      .patch(kind, m.namespace ?? '', m.name, 'json', [
        { op: 'test', path: '/metadata/resourceVersion', value: m.resourceVersion },
        { op: 'replace', path: '/metadata/finalizers', value: (m.finalizers ?? []).filter((f) => f !== finalizer) },
      ], { fieldManager: MANAGER, dryRun: false, fieldValidation: 'Ignore' }, undefined)
      .catch(() => this.sweeper.poke());
  }

  private async deleteQuietly(kind: KindInfo, obj: ApiObject): Promise<void> {
    try {
      await this.resources.delete(kind, obj.metadata.namespace ?? '', obj.metadata.name, {
        dryRun: false,
        propagationPolicy: 'Background',
        preconditions: { uid: obj.metadata.uid ?? '' },
      });
    } catch {
      // Already gone or replaced by a new object of the same name: nothing to collect.
    }
  }

  /**
   * Drops ownerReferences to `owner` from every dependent (each a JSON patch guarded by the
   * resourceVersion the sweep saw); true when none is left pointing to it.
   */
  private async orphanDependents(owner: ApiObject, objects: { kind: KindInfo; obj: ApiObject }[]): Promise<boolean> {
    const uid = owner.metadata.uid;
    let done = true;
    for (const { kind, obj } of objects) {
      const refs = obj.metadata.ownerReferences ?? [];
      if (!refs.some((r) => r.uid === uid)) continue;
      try {
        await this.resources.patch(
          kind,
          obj.metadata.namespace ?? '',
          obj.metadata.name,
          'json',
          [
            { op: 'test', path: '/metadata/resourceVersion', value: obj.metadata.resourceVersion },
            { op: 'replace', path: '/metadata/ownerReferences', value: refs.filter((r) => r.uid !== uid) },
          ],
          { fieldManager: MANAGER, dryRun: false, fieldValidation: 'Ignore' },
          undefined,
        );
      } catch (err) {
        // Gone meanwhile: nothing to let go. Changed meanwhile (the test fails: 400; or 409): its watch
        // event brings the next sweep.
        const code = (err as { code?: number }).code;
        if (code === 404) continue;
        done = false;
        if (code !== 400 && code !== 409) console.error(`garbage-collector: cannot orphan ${kind.plural} ${obj.metadata.name}:`, err instanceof Error ? err.message : err);
      }
    }
    return done;
  }
}
