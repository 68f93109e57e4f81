/** POST /hooks/git/{id} on a real API server: signatures of GitHub, Gitea, GitLab and generic HMAC; 401, 404 and 429; a push triggers an immediate fetch. */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitSyncType, SecretType } from '../../../src/client/kinds.js';
import { yamlOf } from '../../helpers/git-repo.js';
import { condition, secretManifest, startGitSyncEnv, type GitSyncEnv } from './helpers.js';

const TOKEN = 'webhook-token-of-the-test';
const sign = (body: string, algo = 'sha256') => createHmac(algo, TOKEN).update(body).digest('hex');

describe('git webhook', () => {
  let env: GitSyncEnv;
  let path: string;
  let repo: Awaited<ReturnType<GitSyncEnv['newRepo']>>;
  const post = (p: string, body: string, headers: Record<string, string>) => env.server.fetch(`${env.server.url}${p}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  const push = (ref = 'refs/heads/main') => JSON.stringify({ ref, repository: { clone_url: 'https://example.invalid/x.git' } });

  beforeAll(async () => {
    env = await startGitSyncEnv();
    repo = await env.newRepo('hook');
    await repo.commit({ 's.yaml': yamlOf(secretManifest('hook-s', { k: 'one' })) });
    await env.client.resource(SecretType).create('default', { metadata: { name: 'hook-token' }, stringData: { token: TOKEN } });
    await env.gitsync('hook', { url: repo.url, interval: '1h', webhook: { secretRef: { name: 'hook-token' } } });
    const gs = await env.waitFor('hook', (g) => !!g.status?.webhookPath && condition(g, 'Ready')?.status === 'True');
    path = gs.status.webhookPath;
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('publishes a path that does not reveal the name', () => {
    expect(path).toMatch(/^\/hooks\/git\/[0-9a-f]{40}$/);
    expect(path.slice('/hooks/git/'.length)).not.toContain('hook');
  });

  it('refuses a bad or missing signature with 401 and triggers nothing', async () => {
    const body = push();
    const attempts: Record<string, string>[] = [{ 'x-hub-signature-256': `sha256=${sign('other body')}` }, {}, { 'x-gitlab-token': 'nope' }, { 'x-gitea-signature': sign('x') }, { 'x-signature': 'md5=abc' }];
    for (const headers of attempts) {
      const res = await post(path, body, headers);
      expect(res.status).toBe(401);
    }
    const gs = await env.get('hook');
    expect(gs.metadata.annotations?.['berth.dev/requested-at']).toBeUndefined();
  });

  it('answers 404 for an unknown id', async () => {
    const res = await post(`/hooks/git/${'0'.repeat(40)}`, push(), { 'x-hub-signature-256': `sha256=${sign(push())}` });
    expect(res.status).toBe(404);
  });

  it('a signed GitHub push makes the new commit applied', async () => {
    const rev = await repo.commit({ 's.yaml': yamlOf(secretManifest('hook-s', { k: 'two' })) });
    const body = push();
    const res = await post(path, body, { 'x-hub-signature-256': `sha256=${sign(body)}`, 'x-github-event': 'push' });
    expect(res.status).toBe(202);
    expect(((await res.json()) as { details: { triggered: string[] } }).details.triggered).toEqual(['hook']);
    await env.waitFor('hook', (g) => g.status?.appliedRevision === rev);
  });

  it('accepts Gitea, GitLab and generic HMAC signatures, and ignores pushes of other branches', async () => {
    const body = push();
    expect((await post(path, body, { 'x-gitea-signature': sign(body) })).status).toBe(202);
    expect((await post(path, body, { 'x-gitlab-token': TOKEN })).status).toBe(202);
    expect((await post(path, body, { 'x-signature': `sha512=${sign(body, 'sha512')}` })).status).toBe(202);
    const other = push('refs/heads/feature');
    const res = await post(path, other, { 'x-hub-signature-256': `sha256=${sign(other)}` });
    expect(res.status).toBe(202);
    expect(((await res.json()) as { details: { triggered: string[] } }).details.triggered).toEqual([]);
  });

  it('rate-limits a flood of requests with 429', async () => {
    const body = push();
    const codes: number[] = [];
    for (let i = 0; i < 15; i++) codes.push((await post(path, body, { 'x-gitlab-token': TOKEN })).status);
    expect(codes).toContain(429);
    expect(await env.client.resource(GitSyncType).get('default', 'hook')).toBeDefined();
  });
});
