/**
 * The GitSync controller against a real API server (in process, memory store) and real git
 * repositories over file://, without an agent: Secrets, Namespaces and Volumes (whose health the
 * tests set by hand) stand in for what a node would run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitSyncType, NamespaceType, SecretType, VolumeType } from '../../../src/client/kinds.js';
import { metricsRegistry } from '../../../src/metrics/registry.js';
import { yamlOf } from '../../helpers/git-repo.js';
import { condition, secretManifest, startGitSyncEnv, type GitSyncEnv } from './helpers.js';

const secretValue = async (env: GitSyncEnv, name: string, key = 'k', ns = 'default') => {
  const s = await env.client.resource(SecretType).getIfExists(ns, name);
  const v = (s?.data as Record<string, string> | undefined)?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString();
};

async function syncCount(result: string): Promise<number> {
  const text = await metricsRegistry.metrics();
  const m = new RegExp(`^berth_gitsync_sync_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

const volume = (name: string, annotations: Record<string, string> = {}, spec: Record<string, unknown> = {}) => yamlOf({ apiVersion: 'berth.dev/v1alpha1', kind: 'Volume', metadata: { name, annotations }, spec });

describe('GitSync controller', () => {
  let env: GitSyncEnv;
  beforeAll(async () => {
    env = await startGitSyncEnv();
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('applies a path, records the inventory with uids and an event, and a resync of an unchanged revision writes nothing', async () => {
    const repo = await env.newRepo('r1');
    const rev = await repo.commit({ 'app/a.yaml': yamlOf(secretManifest('r1-a', { k: '1' })), 'app/nested/b.yml': yamlOf(secretManifest('r1-b', { k: '2' })), 'other/c.yaml': yamlOf(secretManifest('r1-c', { k: '3' })), 'app/.hidden/x.yaml': 'not: [valid' });
    await env.gitsync('r1', { url: repo.url, path: 'app', interval: '1s' });
    const gs = await env.waitFor('r1', (g) => g.status?.appliedRevision === rev && condition(g, 'Ready')?.status === 'True');
    expect(gs.status.inventory.map((e: { name: string; uid?: string }) => [e.name, typeof e.uid])).toEqual([
      ['r1-a', 'string'],
      ['r1-b', 'string'],
    ]);
    expect(condition(gs, 'Synced')?.status).toBe('True');
    expect(await secretValue(env, 'r1-c')).toBeUndefined();
    expect(gs.status.history[0]).toMatchObject({ revision: rev, result: 'Succeeded' });
    const events = await env.eventsOnceThere('r1', 'Synced');
    // objects just applied and not yet in the watch cache are not "deleted" drift
    expect(events.filter((e) => e.reason === 'DriftCorrected')).toEqual([]);
    expect(events.some((e) => e.reason === 'Synced' && e.message.includes(rev.slice(0, 12)))).toBe(true);

    // resyncs every second: two of them with no write at all
    const before = await syncCount('unchanged');
    const writes = await env.writes();
    const rv = (await env.get('r1')).metadata.resourceVersion;
    const deadline = Date.now() + 20_000;
    while ((await syncCount('unchanged')) < before + 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await syncCount('unchanged')).toBeGreaterThanOrEqual(before + 2);
    expect(await env.writes()).toBe(writes);
    expect((await env.get('r1')).metadata.resourceVersion).toBe(rv);
  });

  it('corrects a hand edit of a field it owns at once, and names the manager in an event', async () => {
    const repo = await env.newRepo('r2');
    await repo.commit({ 's.yaml': yamlOf(secretManifest('r2-s', { k: 'git' })) });
    await env.gitsync('r2', { url: repo.url, interval: '1h' });
    await env.waitFor('r2', (g) => condition(g, 'Ready')?.status === 'True');
    await env.client.resource(SecretType).patch('default', 'r2-s', { data: { k: Buffer.from('hand').toString('base64') } }, { fieldManager: 'kubectl-edit' });
    const deadline = Date.now() + 10_000;
    while ((await secretValue(env, 'r2-s')) !== 'git' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await secretValue(env, 'r2-s')).toBe('git');
    const events = await env.eventsOnceThere('r2', 'DriftCorrected');
    expect(events.find((e) => e.reason === 'DriftCorrected')?.message).toMatch(/Secret default\/r2-s: \.data\.k changed by kubectl-edit/);
  });

  it('with driftPolicy Report only marks the drifted object OutOfSync', async () => {
    const repo = await env.newRepo('r3');
    await repo.commit({ 's.yaml': yamlOf(secretManifest('r3-s', { k: 'git' })) });
    await env.gitsync('r3', { url: repo.url, interval: '1h', selfHeal: { driftPolicy: 'Report' } });
    await env.waitFor('r3', (g) => condition(g, 'Ready')?.status === 'True');
    await env.client.resource(SecretType).patch('default', 'r3-s', { data: { k: Buffer.from('hand').toString('base64') } }, { fieldManager: 'kubectl-edit' });
    const gs = await env.waitFor('r3', (g) => condition(g, 'Synced')?.status === 'False');
    expect(gs.status.outOfSync).toEqual([{ apiVersion: 'v1', kind: 'Secret', namespace: 'default', name: 'r3-s', reason: 'Drifted', fields: ['.data.k'], manager: 'kubectl-edit' }]);
    expect(await secretValue(env, 'r3-s')).toBe('hand');
  });

  it('with autoSync false shows a new commit as OutOfSync, applies it on request, and still corrects drift', async () => {
    const repo = await env.newRepo('r4');
    const first = await repo.commit({ 's.yaml': yamlOf(secretManifest('r4-s', { k: 'one' })) });
    await env.gitsync('r4', { url: repo.url, interval: '1s', autoSync: false });
    // nothing applied yet: a first revision also waits for the request
    await env.waitFor('r4', (g) => g.status?.fetchedRevision === first);
    expect(await secretValue(env, 'r4-s')).toBeUndefined();
    const at1 = new Date().toISOString();
    await env.client.resource(GitSyncType).patch('default', 'r4', { metadata: { annotations: { 'berth.dev/sync-requested-at': at1 } } });
    await env.waitFor('r4', (g) => g.status?.appliedRevision === first && condition(g, 'Ready')?.status === 'True');
    const second = await repo.commit({ 's.yaml': yamlOf(secretManifest('r4-s', { k: 'two' })) });
    const gs = await env.waitFor('r4', (g) => g.status?.fetchedRevision === second);
    await env.waitFor('r4', (g) => condition(g, 'Synced')?.status === 'False');
    expect((await env.get('r4')).status.outOfSync).toEqual([{ apiVersion: 'v1', kind: 'Secret', namespace: 'default', name: 'r4-s', reason: 'Changed' }]);
    expect(gs.status.appliedRevision).toBe(first);
    expect(await secretValue(env, 'r4-s')).toBe('one');
    await env.client.resource(SecretType).patch('default', 'r4-s', { data: { k: Buffer.from('hand').toString('base64') } }, { fieldManager: 'kubectl-edit' });
    const deadline = Date.now() + 10_000;
    while ((await secretValue(env, 'r4-s')) !== 'one' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await secretValue(env, 'r4-s')).toBe('one');
    const at2 = new Date().toISOString();
    await env.client.resource(GitSyncType).patch('default', 'r4', { metadata: { annotations: { 'berth.dev/sync-requested-at': at2 } } });
    await env.waitFor('r4', (g) => g.status?.appliedRevision === second && condition(g, 'Synced')?.status === 'True');
    expect(await secretValue(env, 'r4-s')).toBe('two');
  });

  it('prunes only what left git, keeps prune:disabled objects, and keeps everything with prune off', async () => {
    const repo = await env.newRepo('r5');
    const files = {
      'a.yaml': yamlOf(secretManifest('r5-a', { k: 'a' })),
      'b.yaml': yamlOf(secretManifest('r5-b', { k: 'b' })),
      'c.yaml': yamlOf(secretManifest('r5-c', { k: 'c' }, { annotations: { 'berth.dev/prune': 'disabled' } })),
      'd.yaml': yamlOf(secretManifest('r5-d', { k: 'd' })),
      'e.yaml': yamlOf(secretManifest('r5-e', { k: 'e' })),
    };
    await repo.commit(files);
    await env.gitsync('r5', { url: repo.url, interval: '1h', prune: true });
    await env.waitFor('r5', (g) => condition(g, 'Ready')?.status === 'True' && g.status.inventory?.length === 5);
    const rev = await repo.commit({ 'a.yaml': null, 'c.yaml': null });
    await env.client.resource(GitSyncType).patch('default', 'r5', { metadata: { annotations: { 'berth.dev/requested-at': new Date().toISOString() } } });
    const gs = await env.waitFor('r5', (g) => g.status?.appliedRevision === rev);
    expect(await secretValue(env, 'r5-a')).toBeUndefined();
    expect(await secretValue(env, 'r5-c')).toBe('c');
    expect(gs.status.inventory.map((e: { name: string }) => e.name)).toEqual(['r5-b', 'r5-d', 'r5-e']);
    await env.eventsOnceThere('r5', 'Pruned');
    expect((await env.eventsOnceThere('r5', 'PruneSkipped')).map((e) => e.reason)).toEqual(expect.arrayContaining(['Pruned', 'PruneSkipped']));

    const off = await env.newRepo('r6');
    await off.commit({ 'a.yaml': yamlOf(secretManifest('r6-a', { k: 'a' })), 'b.yaml': yamlOf(secretManifest('r6-b', { k: 'b' })) });
    await env.gitsync('r6', { url: off.url, interval: '1h' });
    await env.waitFor('r6', (g) => condition(g, 'Ready')?.status === 'True');
    const rev6 = await off.commit({ 'a.yaml': null });
    await env.client.resource(GitSyncType).patch('default', 'r6', { metadata: { annotations: { 'berth.dev/requested-at': new Date().toISOString() } } });
    const gs6 = await env.waitFor('r6', (g) => g.status?.appliedRevision === rev6);
    expect(await secretValue(env, 'r6-a')).toBe('a');
    expect(gs6.status.outOfSync).toEqual([{ apiVersion: 'v1', kind: 'Secret', namespace: 'default', name: 'r6-a', reason: 'Extra' }]);
  });

  it('refuses a sync that would prune more than half of the inventory, unless allowMassPrune', async () => {
    const repo = await env.newRepo('r7');
    await repo.commit({ 'a.yaml': yamlOf(secretManifest('r7-a', { k: 'a' })), 'b.yaml': yamlOf(secretManifest('r7-b', { k: 'b' })), 'c.yaml': yamlOf(secretManifest('r7-c', { k: 'c' })) });
    await env.gitsync('r7', { url: repo.url, interval: '1h', prune: true });
    await env.waitFor('r7', (g) => condition(g, 'Ready')?.status === 'True');
    const rev = await repo.commit({ 'a.yaml': null, 'b.yaml': null });
    await env.client.resource(GitSyncType).patch('default', 'r7', { metadata: { annotations: { 'berth.dev/requested-at': new Date().toISOString() } } });
    const gs = await env.waitFor('r7', (g) => condition(g, 'Ready')?.reason === 'MassPruneBlocked');
    expect(condition(gs, 'Ready')?.message).toMatch(/would prune 2 of 3 objects .*allowMassPrune/);
    expect(await secretValue(env, 'r7-a')).toBe('a');
    await env.client.resource(GitSyncType).patch('default', 'r7', { spec: { allowMassPrune: true } });
    await env.waitFor('r7', (g) => g.status?.appliedRevision === rev);
    expect(await secretValue(env, 'r7-a')).toBeUndefined();
  });

  it('applies a later wave only once the wave before is healthy, without polling', async () => {
    const repo = await env.newRepo('r8');
    await repo.commit({ 'v.yaml': volume('r8-v'), 's.yaml': yamlOf(secretManifest('r8-s', { k: 's' }, { annotations: { 'berth.dev/sync-wave': '1' } })) });
    await env.gitsync('r8', { url: repo.url, interval: '1h' });
    await env.waitFor('r8', (g) => condition(g, 'Ready')?.reason === 'Progressing');
    const vols = env.client.resource(VolumeType);
    expect(await vols.getIfExists('default', 'r8-v')).toBeDefined();
    expect(await secretValue(env, 'r8-s')).toBeUndefined();
    const v = await vols.get('default', 'r8-v');
    await vols.patchStatus('default', 'r8-v', { phase: 'Ready', observedGeneration: v.metadata.generation });
    await env.waitFor('r8', (g) => condition(g, 'Ready')?.status === 'True');
    expect(await secretValue(env, 'r8-s')).toBe('s');
  });

  it('rolls a revision that turns out degraded back to the last healthy one with rollbackOnFailure', async () => {
    const repo = await env.newRepo('r9');
    const good = await repo.commit({ 'v.yaml': volume('r9-v'), 's.yaml': yamlOf(secretManifest('r9-s', { k: 'good' })) });
    await env.gitsync('r9', { url: repo.url, interval: '1h', rollbackOnFailure: true, timeout: '1h' });
    const vols = env.client.resource(VolumeType);
    await env.waitFor('r9', (g) => g.status?.appliedRevision === good);
    let v = await vols.get('default', 'r9-v');
    await vols.patchStatus('default', 'r9-v', { phase: 'Ready', observedGeneration: v.metadata.generation });
    await env.waitFor('r9', (g) => g.status?.lastHealthyRevision === good);
    const bad = await repo.commit({ 'v.yaml': volume('r9-v', {}, { driverOpts: { o: 'bad' } }), 's.yaml': yamlOf(secretManifest('r9-s', { k: 'bad' })) });
    await env.client.resource(GitSyncType).patch('default', 'r9', { metadata: { annotations: { 'berth.dev/requested-at': new Date().toISOString() } } });
    await env.waitFor('r9', (g) => g.status?.appliedRevision === bad);
    expect(await secretValue(env, 'r9-s')).toBe('bad');
    v = await vols.get('default', 'r9-v');
    await vols.patchStatus('default', 'r9-v', { phase: 'Failed', observedGeneration: v.metadata.generation });
    const gs = await env.waitFor('r9', (g) => g.status?.history?.[0]?.result === 'RolledBack');
    expect(gs.status.appliedRevision).toBe(good);
    expect(await secretValue(env, 'r9-s')).toBe('good');
    expect(condition(gs, 'Ready')?.reason).toBe('RolledBack');
    expect((await env.eventsOnceThere('r9', 'RolledBack')).some((e) => e.reason === 'RolledBack')).toBe(true);
  });

  it('validates what goes into a namespace the revision creates together with it, and applies both', async () => {
    const repo = await env.newRepo('r11');
    const ns = yamlOf({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'r11-team' } });
    const bad = await repo.commit({ 'ns.yaml': ns, 'c.yaml': yamlOf({ apiVersion: 'berth.dev/v1alpha1', kind: 'Container', metadata: { name: 'c', namespace: 'r11-team' }, spec: { image: 'busybox', restartPolicy: 'Sometimes' } }) });
    await env.gitsync('r11', { url: repo.url, interval: '1h' });
    const gs = await env.waitFor('r11', (g) => g.status?.fetchedRevision === bad && condition(g, 'Ready')?.reason === 'ValidationFailed');
    expect(gs.status.errors).toEqual([expect.objectContaining({ file: 'c.yaml', document: 0, object: 'Container r11-team/c', field: 'spec.restartPolicy' })]);
    expect(await env.client.resource(NamespaceType).getIfExists(undefined, 'r11-team')).toBeUndefined();
    const good = await repo.commit({ 'c.yaml': null, 's.yaml': yamlOf(secretManifest('r11-s', { k: 'in the new namespace' }, { namespace: 'r11-team' })) });
    await env.client.resource(GitSyncType).patch('default', 'r11', { metadata: { annotations: { 'berth.dev/requested-at': new Date().toISOString() } } });
    await env.waitFor('r11', (g) => g.status?.appliedRevision === good && condition(g, 'Ready')?.status === 'True');
    expect(await secretValue(env, 'r11-s', 'k', 'r11-team')).toBe('in the new namespace');
  });

  it('rolls back a revision that is not healthy within timeout', async () => {
    const repo = await env.newRepo('r12');
    const good = await repo.commit({ 's.yaml': yamlOf(secretManifest('r12-s', { k: 'good' })) });
    await env.gitsync('r12', { url: repo.url, interval: '1h', rollbackOnFailure: true, timeout: '2s' });
    await env.waitFor('r12', (g) => g.status?.lastHealthyRevision === good);
    // a Volume no agent will ever make Ready: the revision stays Progressing past its timeout
    const bad = await repo.commit({ 's.yaml': yamlOf(secretManifest('r12-s', { k: 'bad' })), 'v.yaml': volume('r12-v') });
    await env.client.resource(GitSyncType).patch('default', 'r12', { metadata: { annotations: { 'berth.dev/requested-at': new Date().toISOString() } } });
    const gs = await env.waitFor('r12', (g) => g.status?.history?.[0]?.result === 'RolledBack');
    expect(gs.status.appliedRevision).toBe(good);
    expect(gs.status.history[1]).toMatchObject({ revision: bad, result: 'Failed' });
    expect(gs.status.history[1].message).toMatch(/Volume default\/r12-v is not healthy after 2s/);
    expect(await secretValue(env, 'r12-s')).toBe('good');
  });

  it('follows the highest tag in a semver range', async () => {
    const repo = await env.newRepo('r10');
    await repo.commit({ 's.yaml': yamlOf(secretManifest('r10-s', { k: '1.0.0' })) });
    repo.tag('v1.0.0');
    const v12 = await repo.commit({ 's.yaml': yamlOf(secretManifest('r10-s', { k: '1.2.0' })) });
    repo.tag('v1.2.0');
    await repo.commit({ 's.yaml': yamlOf(secretManifest('r10-s', { k: '2.0.0' })) });
    repo.tag('v2.0.0');
    await env.gitsync('r10', { url: repo.url, ref: '^1.0.0', interval: '1h' });
    const gs = await env.waitFor('r10', (g) => condition(g, 'Ready')?.status === 'True');
    expect(gs.status.appliedRevision).toBe(v12);
    expect(gs.status.fetchedRef).toBe('refs/tags/v1.2.0');
    expect(await secretValue(env, 'r10-s')).toBe('1.2.0');
  });
});
