/**
 * What keeps a GitSync OutOfSync, for its Synced condition: the fetched revision against what is
 * applied (Missing, Changed, Extra), drift and drift fights, extras, and conflicts with other GitSyncs.
 */
import type { OutOfSyncEntry } from '../../api/gitsync.js';
import type { DesiredObject } from '../../client/gitops/render.js';
import type { GitSyncCore } from './core.js';
import type { SyncState } from './state.js';

/** What differs: the fetched revision against what is applied, drift, extras, conflicts. */
export function outOfSync(core: Pick<GitSyncCore, 'gitSync'>, st: SyncState): OutOfSyncEntry[] {
  const out: OutOfSyncEntry[] = [];
  const entry = (d: DesiredObject, reason: OutOfSyncEntry['reason'], extra: Partial<OutOfSyncEntry> = {}): OutOfSyncEntry => ({
    apiVersion: d.object.apiVersion!,
    kind: d.type.kind,
    ...(d.object.metadata.namespace ? { namespace: d.object.metadata.namespace } : {}),
    name: d.object.metadata.name,
    reason,
    ...extra,
  });
  const f = st.fetched;
  if (f && st.applied && (f.revision !== st.applied.revision || f.render.hash !== st.applied.hash) && !st.op) {
    const fetchedKeys = new Set<string>();
    for (const d of f.render.objects) {
      fetchedKeys.add(d.key);
      const t = st.tracked.get(d.key);
      if (!t) out.push(entry(d, 'Missing'));
      else if (t.desired.hash !== d.hash) out.push(entry(d, 'Changed'));
    }
    if (f.render.errors.length === 0) for (const t of st.tracked.values()) if (!fetchedKeys.has(t.desired.key)) out.push(entry(t.desired, 'Extra'));
  }
  for (const t of st.tracked.values()) {
    if (t.fight) out.push(entry(t.desired, 'DriftFight', { fields: [t.fight.field], manager: t.fight.manager }));
    else if (t.drifted) out.push(entry(t.desired, 'Drifted', { fields: t.drifted.fields.slice(0, 10), ...(t.drifted.manager ? { manager: t.drifted.manager } : {}) }));
  }
  for (const e of st.extras) out.push({ apiVersion: e.apiVersion, kind: e.kind, ...(e.namespace ? { namespace: e.namespace } : {}), name: e.name, reason: 'Extra' });
  for (const [object, claimant] of st.claimedBy) {
    if (!core.gitSync(claimant)) {
      st.claimedBy.delete(object);
      continue;
    }
    const [kind, rest] = object.split(' ') as [string, string];
    const [ns, name] = rest.includes('/') ? (rest.split('/') as [string, string]) : [undefined, rest];
    const t = [...st.tracked.values()].find((x) => x.type.kind === kind && x.desired.object.metadata.name === name && x.desired.object.metadata.namespace === ns);
    out.push({ apiVersion: t?.desired.object.apiVersion ?? '', kind, ...(ns ? { namespace: ns } : {}), name, reason: 'Conflict', manager: `GitSync ${claimant}` });
  }
  return out.sort((a, b) => a.kind.localeCompare(b.kind) || (a.namespace ?? '').localeCompare(b.namespace ?? '') || a.name.localeCompare(b.name));
}
