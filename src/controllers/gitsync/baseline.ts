/**
 * After a restart the controller knows nothing but the GitSync's status: the applied revision and
 * the inventory (with uids). It renders that revision again and dry-runs its objects to learn the
 * values berth-gitsync owns, so that drift while it was away is seen (and corrected or reported),
 * and a resync of an unchanged revision still writes nothing.
 */
import type { GitSyncCore, GitSyncObject } from './core.js';
import { fingerprintOf } from './fields.js';
import { FIELD_MANAGER } from './applier.js';
import { entryKey } from './plan.js';
import type { SyncState } from './state.js';

export async function baseline(core: GitSyncCore, gs: GitSyncObject, st: SyncState): Promise<void> {
  st.baselineDone = true;
  const inventory = gs.status?.inventory ?? [];
  st.inventory = inventory;
  const rev = gs.status?.appliedRevision;
  if (!rev) {
    st.extras = [...inventory];
    return;
  }
  const at = Date.parse(gs.status?.lastAppliedTime ?? '') || core.now();
  st.applied = { revision: rev, hash: '', at };
  let render;
  try {
    render = await core.renderAt(gs, st, rev);
  } catch (err) {
    core.log(`${gs.metadata.namespace}/${gs.metadata.name}: cannot render the applied revision ${rev.slice(0, 12)} again (${(err as Error).message}); its objects are applied again on the next sync`);
    st.extras = [...inventory];
    return;
  }
  const byKey = new Map(inventory.map((e) => [entryKey(e), e]));
  const objs = render.objects.filter((d) => byKey.has(d.key));
  const { results } = await core.applier.dryRun(objs, new Set(), gs.metadata.namespace ?? 'default');
  for (const d of objs) {
    const r = results.get(d.key);
    const live = core.live(d);
    st.tracked.set(d.key, { desired: d, type: d.type, uid: byKey.get(d.key)?.uid ?? live?.metadata.uid ?? '', rv: '', fingerprint: r ? fingerprintOf(r, FIELD_MANAGER) : new Map(), corrections: new Map() });
  }
  const rendered = new Set(render.objects.map((d) => d.key));
  st.extras = inventory.filter((e) => !rendered.has(entryKey(e)));
  // objects of the revision that never made it into the inventory: the next sync applies them
  st.applied.hash = objs.length === render.objects.length ? render.hash : '';
  if (gs.status?.lastHealthyRevision !== rev) st.awaitingHealth = { revision: rev, since: at };
}
