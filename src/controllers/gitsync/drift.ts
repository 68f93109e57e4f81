/**
 * Drift: a managed object whose fields owned by berth-gitsync no longer hold what was applied
 * (compared with the values the server answered to the apply, never with defaults or others'
 * fields). With driftPolicy Correct the object is applied again at once (the informer event brings
 * the GitSync here within milliseconds); with Report it is only listed as Drifted. A field
 * corrected more than 5 times in 10 minutes is a fight with another writer: corrections of that
 * object stop and the manager that keeps changing it is reported.
 */
import { OWNER_ANNOTATION, ownerId, type DesiredObject } from '../../client/gitops/render.js';
import { gitSyncDriftCorrections } from '../../metrics/gitsync.js';
import type { SyncError } from '../../api/gitsync.js';
import { describePath, driftedPaths, managerOf } from './fields.js';
import { FIELD_MANAGER } from './applier.js';
import { olderThan, track, type GitSyncCore, type GitSyncObject } from './core.js';
import type { SyncState, Tracked } from './state.js';

export const FIGHT_WINDOW_MS = 10 * 60_000;
export const FIGHT_LIMIT = 5;

/** Objects of steps not applied yet by the sync in progress: not drift, just not there yet. */
function pendingKeys(st: SyncState): Set<string> {
  const out = new Set<string>();
  if (st.op) for (const step of st.op.steps.slice(st.op.next)) for (const d of step) out.add(d.key);
  return out;
}

export interface DriftResult {
  corrected: number;
  errors: SyncError[];
}

/** Checks every tracked object; corrects or records drift. */
export async function checkDrift(core: GitSyncCore, gs: GitSyncObject, st: SyncState): Promise<DriftResult> {
  const policy = gs.spec?.selfHeal?.driftPolicy ?? 'Correct';
  const me = ownerId({ namespace: gs.metadata.namespace ?? '', name: gs.metadata.name });
  const pending = pendingKeys(st);
  const now = core.now();
  const toCorrect: { t: Tracked; paths: string[]; manager?: string }[] = [];
  for (const [key, t] of st.tracked) {
    if (pending.has(key)) continue;
    const live = core.live(t.desired);
    if (live && live.metadata.uid === t.uid && live.metadata.resourceVersion === t.rv) continue;
    if (live && live.metadata.uid === t.uid && olderThan(live.metadata.resourceVersion, t.rv)) continue;
    if (live?.metadata.deletionTimestamp) continue;
    // just applied and not in the cache yet: not deleted, only not seen
    if (!live && t.rv && core.cacheBehind(t.desired, t.rv)) continue;
    const owner = live?.metadata.annotations?.[OWNER_ANNOTATION];
    if (live && owner && owner !== me && core.gitSync(owner)) continue; // another GitSync's now: reported as a conflict
    const paths = live && live.metadata.uid === t.uid ? driftedPaths(live, t.fingerprint) : ['["(deleted)"]'];
    if (paths.length === 0) {
      t.rv = live?.metadata.resourceVersion ?? t.rv;
      delete t.drifted;
      continue;
    }
    const manager = live && live.metadata.uid === t.uid ? managerOf(live, paths[0]!, FIELD_MANAGER) : undefined;
    const fields = paths.map(label);
    if (policy === 'Report') {
      const was = t.drifted;
      t.drifted = { fields, ...(manager ? { manager } : {}) };
      if (live) t.rv = live.metadata.resourceVersion ?? t.rv;
      if (!was) core.events.record(gs, 'Warning', 'DriftDetected', `${name(t.desired)}: ${fields.slice(0, 3).join(', ')} changed${manager ? ` by ${manager}` : ''} (driftPolicy Report: not corrected)`);
      continue;
    }
    if (t.fight) continue;
    const fighting = paths.find((p) => (t.corrections.get(p) ?? []).filter((at) => at > now - FIGHT_WINDOW_MS).length >= FIGHT_LIMIT);
    if (fighting) {
      t.fight = { field: label(fighting), manager: manager ?? 'unknown' };
      core.events.record(gs, 'Warning', 'DriftFight', `${name(t.desired)}: ${t.fight.field} was reverted ${FIGHT_LIMIT} times in 10 minutes and changed again by ${t.fight.manager}; corrections of this object stop until the next sync`);
      continue;
    }
    toCorrect.push({ t, paths, ...(manager ? { manager } : {}) });
  }
  if (toCorrect.length === 0) return { corrected: 0, errors: [] };
  const { applied, errors } = await core.applier.apply(toCorrect.map((c) => c.t.desired));
  let corrected = 0;
  for (const c of toCorrect) {
    const obj = applied.get(c.t.desired.key);
    if (!obj) continue;
    const t = track(st, c.t.desired, obj, c.t);
    for (const p of c.paths) t.corrections.set(p, [...(t.corrections.get(p) ?? []).filter((at) => at > now - FIGHT_WINDOW_MS), now]);
    corrected++;
    gitSyncDriftCorrections.inc();
    const what = c.paths[0] === '["(deleted)"]' ? 'was deleted; created it again' : `${c.paths.map(label).slice(0, 3).join(', ')} changed${c.manager ? ` by ${c.manager}` : ''}; applied it again`;
    core.events.record(gs, 'Normal', 'DriftCorrected', `${name(c.t.desired)}: ${what}`);
  }
  if (errors.length) core.events.record(gs, 'Warning', 'DriftCorrectionFailed', errors.map((e) => `${e.object ?? ''}: ${e.message}`).slice(0, 3).join('; '));
  return { corrected, errors };
}

function label(path: string): string {
  return path === '["(deleted)"]' ? '(deleted)' : describePath(JSON.parse(path) as string[]);
}

function name(d: DesiredObject): string {
  return `${d.type.kind} ${d.object.metadata.namespace ? `${d.object.metadata.namespace}/` : ''}${d.object.metadata.name}`;
}
