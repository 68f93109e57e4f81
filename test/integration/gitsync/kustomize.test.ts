/** A path with a kustomization.yaml is rendered by kustomize (kubectl kustomize here); without kustomize the GitSync says so. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InformerFactory } from '../../../src/client/informer.js';
import { SecretType } from '../../../src/client/kinds.js';
import { GitSyncController } from '../../../src/controllers/gitsync/index.js';
import { yamlOf } from '../../helpers/git-repo.js';
import { condition, secretManifest, startGitSyncEnv, type GitSyncEnv } from './helpers.js';

const hasKubectl = spawnSync('sh', ['-c', 'command -v kubectl || command -v kustomize']).status === 0;

describe.skipIf(!hasKubectl)('GitSync with kustomize', () => {
  let env: GitSyncEnv;
  beforeAll(async () => {
    env = await startGitSyncEnv();
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('renders the kustomization of the path, bases outside it included', async () => {
    const repo = await env.newRepo('k1');
    const rev = await repo.commit({
      'base/kustomization.yaml': 'resources:\n- secret.yaml\n',
      'base/secret.yaml': yamlOf(secretManifest('conf', { k: 'base' })),
      'overlays/prod/kustomization.yaml': 'resources:\n- ../../base\nnamePrefix: prod-\ncommonLabels:\n  env: prod\n',
    });
    await env.gitsync('k1', { url: repo.url, path: 'overlays/prod', interval: '1h' });
    const gs = await env.waitFor('k1', (g) => g.status?.appliedRevision === rev && condition(g, 'Ready')?.status === 'True');
    expect(gs.status.inventory.map((e: { name: string }) => e.name)).toEqual(['prod-conf']);
    const s = await env.client.resource(SecretType).get('default', 'prod-conf');
    expect(s.metadata.labels).toEqual({ env: 'prod' });
  });

  it('a broken kustomization is a condition naming the file, and nothing is applied', async () => {
    const repo = await env.newRepo('k2');
    await repo.commit({ 'app/kustomization.yaml': 'resources:\n- missing.yaml\n' });
    await env.gitsync('k2', { url: repo.url, path: 'app', interval: '1h' });
    const gs = await env.waitFor('k2', (g) => condition(g, 'Ready')?.reason === 'ValidationFailed');
    expect(gs.status.errors[0]).toMatchObject({ file: 'app/kustomization.yaml' });
    expect(gs.status.errors[0].message).toMatch(/kustomize failed/);
  });

  it('without kustomize installed the GitSync says KustomizeMissing', async () => {
    await env.controllers.stop();
    const informers = new InformerFactory(() => undefined);
    const ctl = new GitSyncController({ client: env.client, informers, log: () => undefined }, { cacheDir: join(env.dir, 'cache2'), kustomize: [join(env.dir, 'no-such-kustomize'), 'build'] });
    await informers.start();
    await ctl.start();
    try {
      const repo = await env.newRepo('k3');
      await repo.commit({ 'app/kustomization.yaml': 'resources: []\n' });
      await env.gitsync('k3', { url: repo.url, path: 'app', interval: '1h' });
      const gs = await env.waitFor('k3', (g) => condition(g, 'Ready')?.reason === 'KustomizeMissing');
      expect(condition(gs, 'Ready')?.message).toMatch(/cannot run .*no-such-kustomize/);
    } finally {
      await ctl.stop();
      informers.stop();
    }
  });
});
