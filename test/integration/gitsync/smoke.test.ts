import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretType } from '../../../src/client/kinds.js';
import { yamlOf } from '../../helpers/git-repo.js';
import { condition, secretManifest, startGitSyncEnv, type GitSyncEnv } from './helpers.js';

describe('gitsync smoke', () => {
  let env: GitSyncEnv;
  beforeAll(async () => {
    env = await startGitSyncEnv();
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('applies secrets from a file:// repository', async () => {
    const rev = await env.repo.commit({ 'apps/a.yaml': yamlOf(secretManifest('a', { k: 'v' })), 'apps/sub/b.yaml': yamlOf(secretManifest('b', { k: 'w' })) });
    await env.gitsync('demo', { url: env.repo.url, path: 'apps', interval: '1h' });
    const gs = await env.waitFor('demo', (g) => g.status?.appliedRevision === rev && condition(g, 'Ready')?.status === 'True');
    expect(gs.status.inventory.map((e: { name: string }) => e.name)).toEqual(['a', 'b']);
    const a = await env.client.resource(SecretType).get('default', 'a');
    expect(a.metadata.annotations?.['berth.dev/gitsync']).toBe('default/demo');
  });
});
