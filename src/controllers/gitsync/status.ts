/**
 * The status a GitSync reconcile reports: revisions, inventory, errors, out-of-sync objects,
 * history and the conditions Ready, Synced and Healthy. Built from the controller's memory each
 * time and written only when it differs from what is there (a resync that changes nothing writes
 * nothing); a condition keeps its lastTransitionTime while its status stays.
 */
import type { GitSyncStatus, HistoryEntry, InventoryEntry, OutOfSyncEntry, SyncError } from '../../api/gitsync.js';
import { apiVersionOf } from '../../client/api-client.js';
import { canonicalJson } from '../../client/gitops/render.js';
import type { Health } from './health.js';
import type { SyncState } from './state.js';

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
}

export const MAX_LISTED = 100;
const nowRfc3339 = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

/** "a, b, c and 4 more" */
export function listSome(items: string[], n = 3): string {
  if (items.length <= n) return items.join(', ');
  return `${items.slice(0, n).join(', ')} and ${items.length - n} more`;
}

export function outOfSyncName(e: OutOfSyncEntry): string {
  return `${e.kind} ${e.namespace ? `${e.namespace}/` : ''}${e.name}`;
}

export interface StatusInput {
  generation?: number;
  previous?: GitSyncStatus;
  fetched?: { revision: string; ref: string };
  fetchedChanged: boolean;
  applied?: { revision: string; at: number };
  lastHealthyRevision?: string;
  inventory: InventoryEntry[];
  errors: SyncError[];
  outOfSync: OutOfSyncEntry[];
  history: HistoryEntry[];
  health: { health: Health; holder?: string; message?: string; count: number };
  /** Why it is not ready, when it is not: a failure, a hold, a sync in progress. */
  problem?: { reason: string; message: string; progressing?: boolean };
  suspended: boolean;
  webhookPath?: string;
  handled: { requestedAt?: string; syncRequestedAt?: string; rollbackTo?: string };
}

function cond(prev: GitSyncStatus | undefined, c: Condition): Condition {
  const old = (prev?.conditions ?? []).find((x) => x.type === c.type);
  return { ...c, lastTransitionTime: old && old.status === c.status && old.lastTransitionTime ? old.lastTransitionTime : nowRfc3339() };
}

export function buildStatus(s: StatusInput): GitSyncStatus {
  const prev = s.previous;
  const gen = s.generation !== undefined ? { observedGeneration: s.generation } : {};
  const outOfSync = s.outOfSync.slice(0, MAX_LISTED);
  const syncedCond: Condition = s.suspended
    ? { type: 'Synced', status: 'Unknown', reason: 'Suspended', message: 'the GitSync is suspended', ...gen }
    : s.outOfSync.length > 0
      ? { type: 'Synced', status: 'False', reason: 'OutOfSync', message: `${s.outOfSync.length} object(s) differ from ${s.fetched && s.fetched.revision !== s.applied?.revision ? `fetched revision ${s.fetched.revision.slice(0, 12)}` : 'git'}: ${listSome(s.outOfSync.map((e) => `${outOfSyncName(e)} (${e.reason}${e.fields?.length ? ` ${e.fields.slice(0, 3).join(', ')}` : ''}${e.manager ? ` by ${e.manager}` : ''})`))}`, ...gen }
      : s.fetched && s.applied && s.fetched.revision !== s.applied.revision
        ? { type: 'Synced', status: 'False', reason: 'OutOfSync', message: `fetched revision ${s.fetched.revision.slice(0, 12)} is not applied (applied: ${s.applied.revision.slice(0, 12)})`, ...gen }
        : s.applied
          ? { type: 'Synced', status: 'True', reason: 'Synced', message: `revision ${s.applied.revision.slice(0, 12)} is applied and the cluster matches it`, ...gen }
          : { type: 'Synced', status: 'Unknown', reason: 'NotSynced', message: 'nothing applied yet', ...gen };
  const h = s.health;
  const healthCond: Condition =
    h.health === 'Healthy'
      ? { type: 'Healthy', status: 'True', reason: 'Healthy', message: `${s.inventory.length} object(s) healthy`, ...gen }
      : { type: 'Healthy', status: 'False', reason: h.health, message: `${h.holder ?? 'an object'}${h.message ? `: ${h.message}` : ''}${h.count > 1 ? ` (and ${h.count - 1} more ${h.health.toLowerCase()})` : ''}`, ...gen };
  const readyCond: Condition = s.suspended
    ? { type: 'Ready', status: 'False', reason: 'Suspended', message: 'the GitSync is suspended: nothing is fetched, applied or corrected', ...gen }
    : s.problem
      ? { type: 'Ready', status: s.problem.progressing ? 'Unknown' : 'False', reason: s.problem.reason, message: s.problem.message, ...gen }
      : !s.applied
        ? { type: 'Ready', status: 'Unknown', reason: 'Progressing', message: 'nothing applied yet', ...gen }
        : h.health !== 'Healthy'
          ? { type: 'Ready', status: h.health === 'Degraded' ? 'False' : 'Unknown', reason: h.health, message: `revision ${s.applied.revision.slice(0, 12)} applied; ${healthCond.message}`, ...gen }
          : { type: 'Ready', status: 'True', reason: 'Succeeded', message: `revision ${s.applied.revision.slice(0, 12)} applied and healthy`, ...gen };
  const out: GitSyncStatus = {
    ...(s.fetched ? { fetchedRevision: s.fetched.revision, fetchedRef: s.fetched.ref } : {}),
    ...(s.fetched ? { lastFetchTime: s.fetchedChanged || !prev?.lastFetchTime ? nowRfc3339() : prev.lastFetchTime } : {}),
    ...(s.applied ? { appliedRevision: s.applied.revision, lastAppliedTime: new Date(s.applied.at).toISOString().replace(/\.\d{3}Z$/, 'Z') } : {}),
    ...(s.lastHealthyRevision ? { lastHealthyRevision: s.lastHealthyRevision } : {}),
    ...(s.inventory.length ? { inventory: s.inventory } : {}),
    ...(s.errors.length ? { errors: s.errors.slice(0, MAX_LISTED) } : {}),
    ...(outOfSync.length ? { outOfSync } : {}),
    ...(s.history.length ? { history: s.history.slice(0, 10) } : {}),
    ...(s.webhookPath ? { webhookPath: s.webhookPath } : {}),
    ...(s.handled.requestedAt ? { lastHandledRequestedAt: s.handled.requestedAt } : {}),
    ...(s.handled.syncRequestedAt ? { lastHandledSyncRequestedAt: s.handled.syncRequestedAt } : {}),
    ...(s.handled.rollbackTo ? { lastHandledRollbackTo: s.handled.rollbackTo } : {}),
    conditions: [cond(prev, readyCond), cond(prev, syncedCond), cond(prev, healthCond)],
    ...gen,
  };
  return out;
}

/** Whether two statuses say the same (canonical JSON). */
export function sameStatus(a: GitSyncStatus | undefined, b: GitSyncStatus): boolean {
  return a !== undefined && canonicalJson(a) === canonicalJson(b);
}

/** A merge patch turning `old` into `next`: absent keys become null. */
export function statusPatch(old: GitSyncStatus | undefined, next: GitSyncStatus): Record<string, unknown> {
  const patch: Record<string, unknown> = { ...next };
  for (const k of Object.keys(old ?? {})) if (!(k in next)) patch[k] = null;
  return patch;
}

export function inventoryEntryOf(type: { group: string; version: string; kind: string }, namespace: string | undefined, name: string, uid: string): InventoryEntry {
  return { apiVersion: apiVersionOf(type), kind: type.kind, ...(namespace ? { namespace } : {}), name, ...(uid ? { uid } : {}) };
}

/** The status without its times: what a comparison of two reconciles' statuses should look at. */
export function withoutTimes(s: GitSyncStatus): GitSyncStatus {
  const { lastFetchTime: _f, ...rest } = s;
  return { ...rest, ...(s.conditions ? { conditions: s.conditions.map(({ lastTransitionTime: _t, ...c }) => c) } : {}) };
}

/** What holds the Ready condition back, the first that applies: a sync in progress, a source error, a failed sync, a rollback, a revision that does not render. */
export function problemOf(st: SyncState, now: number): StatusInput['problem'] {
  return st.op
      ? { reason: 'Progressing', message: `${st.op.kind === 'rollback' ? 'rolling back to' : 'applying'} revision ${st.op.revision.slice(0, 12)}: step ${st.op.next} of ${st.op.steps.length} applied`, progressing: true }
      : st.sourceError
        ? { reason: st.sourceError.reason, message: `${st.sourceError.message} (attempt ${st.sourceError.attempts}; next in ${Math.max(0, Math.round((st.sourceError.retryAt - now) / 1000))} s)` }
        : st.failure
          ? { reason: st.failure.reason, message: `revision ${st.failure.revision.slice(0, 12)}: ${st.failure.message}` }
          : st.lastSyncResult?.result === 'RolledBack' && st.rejected
            ? { reason: 'RolledBack', message: `revision ${st.rejected.slice(0, 12)} was rolled back: ${st.lastSyncResult.message ?? ''}` }
            : st.fetched && st.fetched.render.errors.length && st.fetched.revision !== st.applied?.revision
              ? { reason: st.fetched.render.kustomizeMissing ? 'KustomizeMissing' : 'ValidationFailed', message: `fetched revision ${st.fetched.revision.slice(0, 12)} does not render` }
              : undefined;
}
