/**
 * A sync (or a rollback) of one revision, as a small state machine that never blocks a worker:
 * validate the whole revision first (render errors, objects another GitSync owns, the mass-prune
 * guard, a server-side dry run of what changes) and write nothing if anything is wrong; then apply
 * step by step (stepsOf), each step only once the one before is healthy (the informer events of the
 * objects bring the GitSync back here, no polling); then prune what left git; then record it.
 */
import type { InventoryEntry, SyncError } from '../../api/gitsync.js';
import { describeKey, OWNER_ANNOTATION, ownerId, PRUNE_ANNOTATION, type DesiredObject, type RenderResult } from '../../client/gitops/render.js';
import { gitSyncLastApplied } from '../../metrics/gitsync.js';
import { parseDuration } from '../../api/fields.js';
import { driftedPaths } from './fields.js';
import { aggregate } from './health.js';
import { currentHealth, track, type GitSyncCore, type GitSyncObject } from './core.js';
import { describeEntry, entryKey, isMassPrune, leftGit, stepsOf } from './plan.js';
import { listSome } from './status.js';
import type { Failure, Operation, SyncState } from './state.js';

export type OpOutcome = 'waiting' | 'applied' | 'finished' | 'failed' | 'blocked' | 'rolled_back';

const BACKOFF_BASE_MS = 5_000;

export function backoffMs(attempts: number, capMs: number): number {
  return Math.min(capMs, BACKOFF_BASE_MS * 2 ** Math.max(0, attempts - 1));
}

export function timeoutOf(gs: GitSyncObject): number {
  return parseDuration(gs.spec?.timeout ?? '5m');
}

export function intervalOf(gs: GitSyncObject): number {
  return parseDuration(gs.spec?.interval ?? '1m');
}

/** The inventory as it stands: what is tracked, and what left git but stays (sorted; rebuilt only when it changed). */
export function currentInventory(st: SyncState): InventoryEntry[] {
  if (!st.baselineDone) return st.inventory;
  let sig = '';
  for (const [key, t] of st.tracked) sig += `${key}=${t.uid};`;
  for (const e of st.extras) sig += `${e.kind}/${e.namespace ?? ''}/${e.name}=${e.uid ?? ''};`;
  if (st.inventoryCache?.sig === sig) return st.inventoryCache.entries;
  const out: { sort: string; e: InventoryEntry }[] = [];
  for (const t of st.tracked.values()) {
    const m = t.desired.object.metadata;
    const e: InventoryEntry = { apiVersion: t.desired.object.apiVersion!, kind: t.type.kind, ...(m.namespace ? { namespace: m.namespace } : {}), name: m.name, ...(t.uid ? { uid: t.uid } : {}) };
    out.push({ sort: `${e.kind}\0${e.namespace ?? ''}\0${e.name}`, e });
  }
  for (const e of st.extras) out.push({ sort: `${e.kind}\0${e.namespace ?? ''}\0${e.name}`, e });
  const entries = out.sort((a, b) => (a.sort < b.sort ? -1 : a.sort > b.sort ? 1 : 0)).map((x) => x.e);
  st.inventoryCache = { sig, entries };
  return entries;
}

/** Whether `d` must be written: new, changed in git, gone or replaced live, or drifted. */
export function needsApply(core: GitSyncCore, st: SyncState, d: DesiredObject): boolean {
  const t = st.tracked.get(d.key);
  if (!t || t.desired.hash !== d.hash) return true;
  const live = core.live(d);
  if (!live || live.metadata.uid !== t.uid || live.metadata.deletionTimestamp) return true;
  return driftedPaths(live, t.fingerprint).length > 0;
}

function fail(core: GitSyncCore, gs: GitSyncObject, st: SyncState, revision: string, reason: string, message: string, errors: SyncError[]): void {
  const attempts = st.failure?.revision === revision && st.failure.reason === reason ? st.failure.attempts + 1 : 1;
  const f: Failure = { revision, reason, message, errors, attempts, retryAt: core.now() + backoffMs(attempts, Math.max(intervalOf(gs), BACKOFF_BASE_MS)) };
  st.failure = f;
  st.op = undefined;
  core.history(gs, st, { revision, result: 'Failed', message: `${reason}: ${message}`.slice(0, 1024) });
  core.events.record(gs, 'Warning', reason, `revision ${revision.slice(0, 12)}: ${message}`.slice(0, 4096));
}

/** Validates `render` and, if all is well, starts applying it. */
export async function startOperation(core: GitSyncCore, gs: GitSyncObject, st: SyncState, kind: Operation['kind'], render: RenderResult, reason: string): Promise<OpOutcome> {
  const rev = render.revision;
  if (render.kustomizeMissing) {
    fail(core, gs, st, rev, 'KustomizeMissing', render.errors[0]?.message ?? 'kustomize is not installed', render.errors);
    return 'failed';
  }
  if (render.errors.length > 0) {
    fail(core, gs, st, rev, 'ValidationFailed', `${render.errors.length} error(s): ${describeErrors(render.errors)}`, render.errors);
    return 'failed';
  }
  const me = ownerId({ namespace: gs.metadata.namespace ?? '', name: gs.metadata.name });
  const conflicts: SyncError[] = [];
  for (const d of render.objects) {
    const owner = core.live(d)?.metadata.annotations?.[OWNER_ANNOTATION];
    if (!owner || owner === me || !core.gitSync(owner)) continue;
    conflicts.push({ file: d.file, document: d.document, object: describeKey(d), field: `metadata.annotations["${OWNER_ANNOTATION}"]`, message: `${describeKey(d)} belongs to GitSync ${owner}: not applied` });
    core.claim(owner, describeKey(d), me, d);
  }
  if (conflicts.length > 0) {
    fail(core, gs, st, rev, 'Conflict', `${conflicts.length} object(s) belong to another GitSync: ${describeErrors(conflicts)}`, conflicts);
    return 'blocked';
  }
  const inventory = currentInventory(st);
  const gone = leftGit(inventory, render.objects);
  const prune = gs.spec?.prune === true;
  if (prune && !gs.spec?.allowMassPrune && isMassPrune(gone.length, inventory.length)) {
    fail(core, gs, st, rev, 'MassPruneBlocked', `the revision would prune ${gone.length} of ${inventory.length} objects (${listSome(gone.map(describeEntry))}); set spec.allowMassPrune to allow it`, []);
    return 'blocked';
  }
  const changed = render.objects.filter((d) => needsApply(core, st, d));
  const newNamespaces = new Set(render.objects.filter((d) => d.type.kind === 'Namespace' && !core.live(d)).map((d) => d.object.metadata.name));
  const dryRunStart = core.now();
  const { errors } = await core.applier.dryRun(changed, newNamespaces, gs.metadata.namespace ?? 'default');
  const dryRunMs = core.now() - dryRunStart;
  if (errors.length > 0) {
    fail(core, gs, st, rev, 'ValidationFailed', `the server refused ${errors.length} field(s) in a dry run: ${describeErrors(errors)}`, errors);
    return 'failed';
  }
  const now = core.now();
  st.op = {
    kind,
    revision: rev,
    render,
    steps: stepsOf(render.objects),
    next: 0,
    startedAt: now,
    stepAppliedAt: now,
    prune: prune ? gone : [],
    keep: prune ? [] : gone,
    reason,
    timing: { dryRunMs, writeMs: 0, waitMs: 0 },
  };
  core.log(`${me}: ${kind} of ${rev.slice(0, 12)}: ${changed.length} of ${render.objects.length} objects to apply, ${prune ? gone.length : 0} to prune`);
  return advance(core, gs, st);
}

/** Applies the next steps as far as health allows; finishes the operation after the last. */
export async function advance(core: GitSyncCore, gs: GitSyncObject, st: SyncState): Promise<OpOutcome> {
  const op = st.op;
  if (!op) return 'finished';
  let wrote = false;
  for (;;) {
    if (op.next > 0 && op.next < op.steps.length) {
      const prev = op.steps[op.next - 1]!;
      const h = aggregate(prev, (d) => currentHealth(core, st, d), (d) => describeKey(d));
      if (h.health === 'Degraded') return healthFailure(core, gs, st, `${h.holder} is degraded${h.message ? `: ${h.message}` : ''}`);
      if (h.health === 'Progressing') {
        if (core.now() - op.stepAppliedAt > timeoutOf(gs)) return healthFailure(core, gs, st, `${h.holder} is not healthy after ${gs.spec?.timeout ?? '5m'}${h.message ? `: ${h.message}` : ''}`);
        op.timing.waitingSince ??= op.stepAppliedAt;
        return wrote ? 'applied' : 'waiting';
      }
      if (op.timing.waitingSince !== undefined) {
        op.timing.waitMs += core.now() - op.timing.waitingSince;
        delete op.timing.waitingSince;
      }
    }
    if (op.next >= op.steps.length) {
      await finish(core, gs, st, op);
      return op.kind === 'rollback' ? 'rolled_back' : 'finished';
    }
    const step = op.steps[op.next]!.filter((d) => needsApply(core, st, d));
    if (step.length > 0) {
      const writeStart = core.now();
      const { applied, errors } = await core.applier.apply(step);
      op.timing.writeMs += core.now() - writeStart;
      for (const d of step) {
        const obj = applied.get(d.key);
        if (obj) track(st, d, obj, st.tracked.get(d.key));
      }
      wrote = true;
      if (errors.length > 0) {
        fail(core, gs, st, op.revision, 'ApplyFailed', `${errors.length} error(s): ${describeErrors(errors)}`, errors);
        return 'failed';
      }
    }
    op.next++;
    op.stepAppliedAt = core.now();
    const kinds = [...new Set(op.steps[op.next - 1]!.map((d) => d.type.kind))].join(',');
    core.log(`${gs.metadata.namespace}/${gs.metadata.name}: ${op.revision.slice(0, 12)} step ${op.next}/${op.steps.length} (${kinds}, ${step.length} written) at ${Math.round(core.now() - op.startedAt)} ms`);
  }
}

async function healthFailure(core: GitSyncCore, gs: GitSyncObject, st: SyncState, message: string): Promise<OpOutcome> {
  const op = st.op!;
  fail(core, gs, st, op.revision, 'HealthCheckFailed', message, []);
  if (gs.spec?.rollbackOnFailure && op.kind === 'sync') return rollback(core, gs, st, op.revision, message);
  return 'failed';
}

/** Applies the last healthy revision again instead of `failed`; false when there is none. */
export async function rollback(core: GitSyncCore, gs: GitSyncObject, st: SyncState, failed: string, why: string): Promise<OpOutcome> {
  const target = st.lastHealthyRevision;
  if (!target || target === failed) {
    core.events.record(gs, 'Warning', 'RollbackImpossible', `revision ${failed.slice(0, 12)} is not healthy (${why}) and there is no earlier healthy revision to roll back to`);
    return 'failed';
  }
  st.rejected = failed;
  st.awaitingHealth = undefined;
  core.events.record(gs, 'Warning', 'RollingBack', `revision ${failed.slice(0, 12)} is not healthy (${why}): rolling back to ${target.slice(0, 12)}`);
  const render = await core.renderAt(gs, st, target);
  const outcome = await startOperation(core, gs, st, 'rollback', render, `rollback from ${failed.slice(0, 12)}: ${why}`);
  return outcome === 'finished' ? 'rolled_back' : outcome;
}

async function finish(core: GitSyncCore, gs: GitSyncObject, st: SyncState, op: Operation): Promise<void> {
  const pruned: string[] = [];
  const problems: string[] = [];
  const extras = [...op.keep];
  for (const e of op.prune) {
    const live = core.liveByEntry(e.apiVersion, e.kind, e.namespace, e.name);
    if (!live || (e.uid && live.metadata.uid !== e.uid)) continue; // gone, or another object by now: not ours to delete
    if (live.metadata.annotations?.[PRUNE_ANNOTATION] === 'disabled') {
      core.events.record(gs, 'Normal', 'PruneSkipped', `${describeEntry(e)} left git but has ${PRUNE_ANNOTATION}: disabled; left in place`);
      continue;
    }
    try {
      await core.applier.delete(e);
      pruned.push(describeEntry(e));
    } catch (err) {
      problems.push(`${describeEntry(e)}: ${(err as Error).message}`);
      extras.push(e);
    }
  }
  if (pruned.length) core.events.record(gs, 'Normal', 'Pruned', `deleted ${pruned.length} object(s) that left git: ${listSome(pruned, 10)}`);
  if (problems.length) core.events.record(gs, 'Warning', 'PruneFailed', problems.slice(0, 5).join('; '));
  const keep = new Set(op.render.objects.map((d) => d.key));
  for (const key of [...st.tracked.keys()]) if (!keep.has(key)) st.tracked.delete(key);
  const t = op.timing;
  core.log(`${gs.metadata.namespace}/${gs.metadata.name}: ${op.revision.slice(0, 12)} applied ${Math.round(core.now() - op.startedAt + t.dryRunMs)} ms after validation began: dry run ${Math.round(t.dryRunMs)} ms, writes ${Math.round(t.writeMs)} ms, waiting for waves to be healthy ${Math.round(t.waitMs)} ms, ${pruned.length} pruned`);
  const extraKeys = new Set(extras.map(entryKey));
  st.extras = extras.filter((e, i, all) => all.findIndex((x) => entryKey(x) === entryKey(e)) === i && extraKeys.has(entryKey(e)));
  const now = core.now();
  st.applied = { revision: op.revision, hash: op.render.hash, at: now };
  st.op = undefined;
  st.failure = undefined;
  for (const t of st.tracked.values()) delete t.fight;
  st.awaitingHealth = { revision: op.revision, since: now, ...(st.fetched?.revision === op.revision && st.fetched.commitTime ? { commitTime: st.fetched.commitTime } : {}) };
  st.lastSyncResult = op.kind === 'rollback' ? { result: 'RolledBack', message: op.reason } : { result: 'Succeeded' };
  core.history(gs, st, { revision: op.revision, result: op.kind === 'rollback' ? 'RolledBack' : 'Succeeded', ...(op.kind === 'rollback' ? { message: op.reason.slice(0, 1024) } : {}) });
  await core.keep(gs, 'applied', op.revision).catch(() => undefined);
  gitSyncLastApplied.set({ namespace: gs.metadata.namespace ?? '', gitsync: gs.metadata.name }, now / 1000);
  core.events.record(
    gs,
    op.kind === 'rollback' ? 'Warning' : 'Normal',
    op.kind === 'rollback' ? 'RolledBack' : 'Synced',
    `${op.kind === 'rollback' ? `rolled back to revision ${op.revision.slice(0, 12)} (${op.reason})` : `applied revision ${op.revision.slice(0, 12)}`}: ${op.render.objects.length} object(s)${pruned.length ? `, ${pruned.length} pruned` : ''}${st.extras.length ? `, ${st.extras.length} left git and kept (prune off)` : ''}`,
  );
}

export function describeErrors(errors: SyncError[]): string {
  return listSome(
    errors.map((e) => `${e.file ?? ''}${e.document !== undefined ? ` document ${e.document}` : ''}${e.object ? ` (${e.object})` : ''}${e.field ? ` ${e.field}` : ''}: ${e.message}`.trim()),
    3,
  );
}
