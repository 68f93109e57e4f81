/**
 * The Volume reconciler: makes the local volume exist on this node and reports it; on deletion
 * the finalizer is removed (and the data deleted per reclaimPolicy) only once no container uses it.
 */
import type { ContainerSpec } from '../api/container.js';
import type { VolumeSpec, VolumeStatus } from '../api/volume.js';
import type { KObject } from '../client/api-client.js';
import type { ReconcileResult as HandlerResult } from '../client/controller.js';
import type { Informer } from '../client/informer.js';
import type { BerthResources } from '../client/kinds.js';
import type { Runtime } from '../runtime/index.js';
import type { EventRecorder } from './events.js';
import { runtimeVolumeName, splitKey, VOLUME_FINALIZER } from './names.js';
import { condition, setFinalizer, writeStatus } from './status.js';

const PLURAL = 'volumes' as const;

export interface VolumeReconcilerDeps {
  client: BerthResources;
  runtime: Runtime;
  nodeName: string;
  volumes: Informer;
  containers: Informer;
  events: EventRecorder;
}

export class VolumeReconciler {
  constructor(private readonly d: VolumeReconcilerDeps) {}

  /** Containers (on this node's cache) that mount the volume, including ones still being deleted. */
  usersOf(namespace: string, name: string): string[] {
    return this.d.containers
      .list(namespace)
      .filter((c: KObject) => ((c.spec as ContainerSpec | undefined)?.volumeMounts ?? []).some((m) => m.name === name))
      .map((c) => c.metadata.name)
      .sort();
  }

  async reconcile(key: string): Promise<HandlerResult | void> {
    const { namespace, name } = splitKey(key);
    const obj = this.d.volumes.get(namespace, name);
    if (!obj || (obj.spec as VolumeSpec | undefined)?.nodeName !== this.d.nodeName) return;
    const spec = obj.spec as unknown as VolumeSpec;
    const rtName = runtimeVolumeName(namespace, name);
    const vols = this.d.runtime.volumes;
    const users = this.usersOf(namespace, name);
    if (obj.metadata.deletionTimestamp) {
      const runtimeUsers = (await vols.find(rtName)) ? await vols.usedBy(rtName) : [];
      if (users.length > 0 || runtimeUsers.length > 0) {
        await writeStatus(this.d.client[PLURAL], obj, { ...(obj.status ?? {}), usedBy: users });
        return { requeueAfterMs: 2000 };
      }
      if ((spec.reclaimPolicy ?? 'Delete') === 'Delete' && (await vols.find(rtName))) {
        await vols.remove(rtName);
        this.d.events.record(obj, 'Normal', 'Deleted', `Deleted volume data on node ${this.d.nodeName}`);
      }
      await setFinalizer(this.d.client[PLURAL], obj, VOLUME_FINALIZER, false);
      return;
    }
    await setFinalizer(this.d.client[PLURAL], obj, VOLUME_FINALIZER, true);
    const existed = await vols.find(rtName);
    const info = existed ?? (await vols.create(rtName, { labels: { 'berth.dev/namespace': namespace, 'berth.dev/name': name, 'berth.dev/uid': obj.metadata.uid ?? '' } }));
    if (!existed) this.d.events.record(obj, 'Normal', 'Created', `Created volume at ${info.mountpoint}`);
    const prev = (obj.status ?? {}) as VolumeStatus;
    const status: VolumeStatus = {
      phase: 'Ready',
      nodeName: this.d.nodeName,
      mountpoint: info.mountpoint,
      usedBy: users,
      size: await vols.size(rtName),
      createdAt: info.createdAt,
      conditions: [condition(prev.conditions, { type: 'Ready', status: 'True', reason: 'Created' })],
      ...(obj.metadata.generation !== undefined ? { observedGeneration: obj.metadata.generation } : {}),
    };
    await writeStatus(this.d.client[PLURAL], obj, status as Record<string, unknown>);
  }
}
