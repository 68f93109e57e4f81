/**
 * What the parts of the GitSync controller (operation.ts, drift.ts) need of it: the writer, the
 * caches, events, the clock. The controller (controller.ts) is the one implementation.
 */
import type { GitSyncSpec, GitSyncStatus, HistoryEntry } from '../../api/gitsync.js';
import type { KObject } from '../../client/api-client.js';
import type { EventRecorder } from '../../client/events.js';
import type { DesiredObject, RenderResult } from '../../client/gitops/render.js';
import type { Applier } from './applier.js';
import { fingerprintOf } from './fields.js';
import { FIELD_MANAGER } from './applier.js';
import type { SyncState, Tracked } from './state.js';
import { healthOf, type HealthResult } from './health.js';

export type GitSyncObject = KObject & { spec?: GitSyncSpec & Record<string, unknown>; status?: GitSyncStatus & Record<string, unknown> };

export interface GitSyncCore {
  applier: Applier;
  events: EventRecorder;
  now(): number;
  log(msg: string): void;
  /** The live object a desired one names, from the informer caches. */
  live(d: Pick<DesiredObject, 'type' | 'object'>): KObject | undefined;
  liveByEntry(apiVersion: string, kind: string, namespace: string | undefined, name: string): KObject | undefined;
  /** Whether the cache of `d`'s kind has not yet seen resourceVersion `rv` (what an apply answered). */
  cacheBehind(d: Pick<DesiredObject, 'type'>, rv: string): boolean;
  /** The GitSync named namespace/name, if it exists. */
  gitSync(id: string): GitSyncObject | undefined;
  /** Queue a GitSync (namespace/name) for a reconcile. */
  enqueue(id: string): void;
  /** The render of `revision` (from memory, else fetched and rendered again). */
  renderAt(gs: GitSyncObject, st: SyncState, revision: string): Promise<RenderResult>;
  /** Keep `revision` in the cache under this GitSync's `name` (applied, healthy). */
  keep(gs: GitSyncObject, name: string, revision: string): Promise<void>;
  history(gs: GitSyncObject, st: SyncState, e: Omit<HistoryEntry, 'time'>): void;
  /** `claimant` wants an object GitSync `owner` applies: reported in both statuses. */
  claim(owner: string, object: string, claimant: string, d: DesiredObject): void;
}

/** Remembers what was applied to an object: uid, resourceVersion and the values of the fields berth-gitsync owns. */
export function track(st: SyncState, d: DesiredObject, applied: KObject, prior?: Tracked): Tracked {
  const t: Tracked = {
    desired: d,
    type: d.type,
    uid: applied.metadata.uid ?? '',
    rv: applied.metadata.resourceVersion ?? '',
    fingerprint: fingerprintOf(applied, FIELD_MANAGER),
    corrections: prior && prior.desired.hash === d.hash ? prior.corrections : new Map(),
    ...(prior?.fight && prior.desired.hash === d.hash ? { fight: prior.fight } : {}),
  };
  st.tracked.set(d.key, t);
  return t;
}

/** Whether the informer's copy is older than what we know (resourceVersions are store revisions here). */
export function olderThan(liveRv: string | undefined, known: string): boolean {
  const a = Number(liveRv);
  const b = Number(known);
  return Number.isSafeInteger(a) && Number.isSafeInteger(b) && a < b;
}

/**
 * Health of a desired object as the caches show it; a cached copy older than what this controller
 * applied (the watch event of the apply has not arrived yet) says nothing about it: Progressing.
 */
export function currentHealth(core: GitSyncCore, st: SyncState, d: DesiredObject): HealthResult {
  const live = core.live(d);
  const t = st.tracked.get(d.key);
  if (t && ((live && live.metadata.uid === t.uid && olderThan(live.metadata.resourceVersion, t.rv)) || (!live && t.rv && core.cacheBehind(d, t.rv)))) {
    return { health: 'Progressing', message: 'waiting for the watch to show the applied object' };
  }
  return healthOf(live);
}
