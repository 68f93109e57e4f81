/**
 * Deleting a GitSync: with spec.prune what it applied goes too (but objects marked
 * berth.dev/prune: disabled), without prune or with --cascade=orphan it stays; the GitSync's
 * finalizer is dropped either way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitSyncType } from '../../../src/client/kinds.js';
import { yamlOf } from '../../helpers/git-repo.js';
import { condition, secretManifest, SecretType, startGitSyncEnv, type GitSyncEnv } from './helpers.js';

describe('deleting a GitSync', () => {
  let env: GitSyncEnv;
  beforeAll(async () => {
    env = await startGitSyncEnv();
  });
  afterAll(async () => {
    await env?.stop();
  });

  const secretNames = async () => (await env.client.resource(SecretType).list({ namespace: 'default' })).items.map((s) => s.metadata.name).sort();
  const gone = async (name: string) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const gs = await env.client.resource(GitSyncType).getIfExists('default', name);
      if (!gs) return gs;
      if (Date.now() > deadline) throw new Error(`GitSync ${name} is still there (finalizers ${JSON.stringify(gs.metadata.finalizers)}):\n${env.logs.join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  it('prunes what it applied with spec.prune, keeps it without, and keeps it with --cascade=orphan', async () => {
    const rev = await env.repo.commit({
      'pruned/a.yaml': yamlOf(secretManifest('p-a', { k: 'v' })),
      'pruned/b.yaml': yamlOf(secretManifest('p-keep', { k: 'v' }, { annotations: { 'berth.dev/prune': 'disabled' } })),
      'kept/a.yaml': yamlOf(secretManifest('k-a', { k: 'v' })),
      'orphaned/a.yaml': yamlOf(secretManifest('o-a', { k: 'v' })),
    });
    const created = await env.gitsync('pruned', { url: env.repo.url, path: 'pruned', interval: '1h', prune: true });
    expect(created.metadata.finalizers).toEqual(['berth.dev/gitsync']);
    await env.gitsync('kept', { url: env.repo.url, path: 'kept', interval: '1h' });
    await env.gitsync('orphaned', { url: env.repo.url, path: 'orphaned', interval: '1h', prune: true });
    for (const name of ['pruned', 'kept', 'orphaned']) await env.waitFor(name, (g) => g.status?.appliedRevision === rev && condition(g, 'Ready')?.status === 'True');
    expect(await secretNames()).toEqual(['k-a', 'o-a', 'p-a', 'p-keep']);

    const gsType = env.client.resource(GitSyncType);
    await gsType.delete('default', 'pruned');
    expect(await gone('pruned')).toBeUndefined();
    await gsType.delete('default', 'kept');
    expect(await gone('kept')).toBeUndefined();
    await gsType.delete('default', 'orphaned', { propagationPolicy: 'Orphan' });
    // the garbage collector drops `orphan` at once; the choice stays in an annotation the controller reads
    expect(await gone('orphaned')).toBeUndefined();

    expect(await secretNames()).toEqual(['k-a', 'o-a', 'p-keep']);
  });

  it('puts its finalizer back on a GitSync that lacks it (as one created on a Kubernetes API server)', async () => {
    await env.gitsync('bare', { url: env.repo.url, path: 'kept', interval: '1h' });
    await env.client.resource(GitSyncType).patch('default', 'bare', [{ op: 'remove', path: '/metadata/finalizers' }], { type: 'json' });
    await env.waitFor('bare', (g) => g.metadata.finalizers?.includes('berth.dev/gitsync') === true);
    await env.client.resource(GitSyncType).delete('default', 'bare');
    expect(await gone('bare')).toBeUndefined();
  });
});
