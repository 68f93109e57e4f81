/**
 * Bad input never changes a live object: broken YAML, a schema violation, an unknown kind, an
 * object of another GitSync, an unreachable repository and wrong credentials each stop the sync
 * with a condition naming the file, document and field (or the reason), with backoff between
 * attempts. Also: two GitSyncs never fight, a GitSync restarted picks up where it was without
 * writing, and a field reverted again and again is reported with the manager that changes it.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitSyncType, SecretType } from '../../../src/client/kinds.js';
import { startControllers } from '../../../src/cmd/compose.js';
import { serveHttp, yamlOf, type GitHttpServer } from '../../helpers/git-repo.js';
import { condition, secretManifest, startGitSyncEnv, type GitSyncEnv } from './helpers.js';

const secretValue = async (env: GitSyncEnv, name: string) => {
  const s = await env.client.resource(SecretType).getIfExists('default', name);
  const v = (s?.data as Record<string, string> | undefined)?.k;
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString();
};
const request = (env: GitSyncEnv, name: string) =>
  env.client.resource(GitSyncType).patch('default', name, { metadata: { annotations: { 'berth.dev/requested-at': new Date().toISOString() } } });

describe('GitSync bad input', () => {
  let env: GitSyncEnv;
  let http: GitHttpServer | undefined;
  beforeAll(async () => {
    env = await startGitSyncEnv();
  });
  afterAll(async () => {
    await http?.close();
    await env?.stop();
  });

  /** A GitSync at a good revision; then `files` are committed and the result must leave the secret as it was. */
  async function badRevision(name: string, files: Record<string, string | null>) {
    const repo = await env.newRepo(name);
    const good = await repo.commit({ 'ok.yaml': yamlOf(secretManifest(`${name}-s`, { k: 'good' })) });
    await env.gitsync(name, { url: repo.url, interval: '1h' });
    await env.waitFor(name, (g) => g.status?.appliedRevision === good && condition(g, 'Ready')?.status === 'True');
    const rv = (await env.client.resource(SecretType).get('default', `${name}-s`)).metadata.resourceVersion;
    const bad = await repo.commit({ 'ok.yaml': yamlOf(secretManifest(`${name}-s`, { k: 'bad' })), ...files });
    await request(env, name);
    const gs = await env.waitFor(name, (g) => g.status?.fetchedRevision === bad && condition(g, 'Ready')?.status === 'False');
    expect(gs.status.appliedRevision).toBe(good);
    const s = await env.client.resource(SecretType).get('default', `${name}-s`);
    expect(s.metadata.resourceVersion).toBe(rv);
    expect(await secretValue(env, `${name}-s`)).toBe('good');
    return gs;
  }

  it('broken YAML in one file names the file and document', async () => {
    const gs = await badRevision('y1', { 'broken.yaml': `${yamlOf(secretManifest('y1-x', { k: 'x' }))}---\nkind: [oops\n` });
    expect(condition(gs, 'Ready')?.reason).toBe('ValidationFailed');
    expect(gs.status.errors[0]).toMatchObject({ file: 'broken.yaml', document: 1 });
    expect(gs.status.errors[0].message).toMatch(/invalid YAML at line \d+/);
    expect(await secretValue(env, 'y1-x')).toBeUndefined();
  });

  it('a schema violation in one document names the file, document and field (server-side dry run)', async () => {
    const gs = await badRevision('y2', {
      'ctr.yaml': `${yamlOf(secretManifest('y2-other', { k: 'x' }))}---\n${yamlOf({ apiVersion: 'berth.dev/v1alpha1', kind: 'Container', metadata: { name: 'y2-c' }, spec: { image: 'busybox', restartPolicy: 'Sometimes' } })}`,
    });
    expect(condition(gs, 'Ready')?.reason).toBe('ValidationFailed');
    expect(gs.status.errors).toEqual([expect.objectContaining({ file: 'ctr.yaml', document: 1, object: 'Container default/y2-c', field: 'spec.restartPolicy' })]);
    expect(await secretValue(env, 'y2-other')).toBeUndefined();
  });

  it('an unknown kind names the file, document and field', async () => {
    const gs = await badRevision('y3', { 'x.yaml': yamlOf({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' } }) });
    expect(gs.status.errors).toEqual([{ file: 'x.yaml', document: 0, field: 'kind', message: 'unknown kind Deployment of apps/v1: the server does not serve it' }]);
  });

  it("a manifest for another GitSync's object is a conflict reported in both statuses, and nothing is applied", async () => {
    const owner = await env.newRepo('y4-owner');
    await owner.commit({ 's.yaml': yamlOf(secretManifest('y4-shared', { k: 'owner' })) });
    await env.gitsync('y4-owner', { url: owner.url, interval: '1h' });
    await env.waitFor('y4-owner', (g) => condition(g, 'Ready')?.status === 'True');
    const other = await env.newRepo('y4-other');
    await other.commit({ 'mine.yaml': yamlOf(secretManifest('y4-mine', { k: 'other' })), 's.yaml': yamlOf(secretManifest('y4-shared', { k: 'other' })) });
    await env.gitsync('y4-other', { url: other.url, interval: '1h' });
    const gs = await env.waitFor('y4-other', (g) => condition(g, 'Ready')?.reason === 'Conflict');
    expect(gs.status.errors[0]).toMatchObject({ file: 's.yaml', document: 0, object: 'Secret default/y4-shared', field: 'metadata.annotations["berth.dev/gitsync"]' });
    expect(gs.status.errors[0].message).toMatch(/belongs to GitSync default\/y4-owner/);
    const ownerGs = await env.waitFor('y4-owner', (g) => (g.status?.outOfSync ?? []).some((e: { reason: string }) => e.reason === 'Conflict'));
    expect(ownerGs.status.outOfSync[0]).toMatchObject({ kind: 'Secret', name: 'y4-shared', reason: 'Conflict', manager: 'GitSync default/y4-other' });
    expect(await secretValue(env, 'y4-shared')).toBe('owner');
    expect(await secretValue(env, 'y4-mine')).toBeUndefined();
  });

  it('an unreachable repository is a FetchFailed condition, retried with growing delays', async () => {
    await env.gitsync('y5', { url: `file://${join(env.dir, 'nowhere.git')}`, interval: '1h' });
    const gs = await env.waitFor('y5', (g) => condition(g, 'Ready')?.reason === 'FetchFailed');
    expect(condition(gs, 'Ready')?.message).toMatch(/nowhere\.git.*attempt 1; next in 5 s/);
    const again = await env.waitFor('y5', (g) => /attempt 2; next in 10 s/.test(condition(g, 'Ready')?.message ?? ''), 20_000);
    expect(condition(again, 'Ready')?.status).toBe('False');
  });

  it('over http, wrong credentials are AuthenticationFailed and right ones from the Secret fetch', async () => {
    const repo = await env.newRepo('y6');
    await repo.commit({ 's.yaml': yamlOf(secretManifest('y6-s', { k: 'http' })) });
    http = await serveHttp(join(env.dir, 'y6'), 'git-user', 's3cret-pass');
    const secrets = env.client.resource(SecretType);
    await secrets.create('default', { metadata: { name: 'y6-creds' }, stringData: { username: 'git-user', password: 'wrong' } });
    await env.gitsync('y6', { url: `${http.url}/remote.git`, interval: '1h', secretRef: { name: 'y6-creds' } });
    const gs = await env.waitFor('y6', (g) => condition(g, 'Ready')?.reason === 'AuthenticationFailed');
    expect(JSON.stringify(gs.status)).not.toContain('wrong');
    expect(http.requests.length).toBeGreaterThan(0);
    expect(await secretValue(env, 'y6-s')).toBeUndefined();
    await secrets.patch('default', 'y6-creds', { data: { password: Buffer.from('s3cret-pass').toString('base64') } });
    await request(env, 'y6');
    await env.waitFor('y6', (g) => condition(g, 'Ready')?.status === 'True');
    expect(await secretValue(env, 'y6-s')).toBe('http');
  });

  it('stops correcting a field reverted more than 5 times in 10 minutes and names the manager', async () => {
    const repo = await env.newRepo('y7');
    await repo.commit({ 's.yaml': yamlOf(secretManifest('y7-s', { k: 'git' })) });
    await env.gitsync('y7', { url: repo.url, interval: '1h' });
    await env.waitFor('y7', (g) => condition(g, 'Ready')?.status === 'True');
    const secrets = env.client.resource(SecretType);
    for (let i = 0; i < 6; i++) {
      await secrets.patch('default', 'y7-s', { data: { k: Buffer.from(`fight-${i}`).toString('base64') } }, { fieldManager: 'rogue-operator' });
      if (i < 5) {
        const deadline = Date.now() + 10_000;
        while ((await secretValue(env, 'y7-s')) !== 'git' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 30));
        expect(await secretValue(env, 'y7-s')).toBe('git');
      }
    }
    const gs = await env.waitFor('y7', (g) => (g.status?.outOfSync ?? []).some((e: { reason: string }) => e.reason === 'DriftFight'));
    expect(gs.status.outOfSync[0]).toMatchObject({ name: 'y7-s', reason: 'DriftFight', fields: ['.data.k'], manager: 'rogue-operator' });
    expect(await secretValue(env, 'y7-s')).toBe('fight-5');
  });

  it('after a restart of the controller nothing is written for an unchanged revision, and drift made meanwhile is corrected', async () => {
    const repo = await env.newRepo('y8');
    await repo.commit({ 'a.yaml': yamlOf(secretManifest('y8-a', { k: 'git' })), 'b.yaml': yamlOf(secretManifest('y8-b', { k: 'git' })) });
    await env.gitsync('y8', { url: repo.url, interval: '1h' });
    await env.waitFor('y8', (g) => condition(g, 'Ready')?.status === 'True');
    await env.controllers.stop();
    const secrets = env.client.resource(SecretType);
    await secrets.patch('default', 'y8-b', { data: { k: Buffer.from('meanwhile').toString('base64') } }, { fieldManager: 'kubectl-edit' });
    const rvA = (await secrets.get('default', 'y8-a')).metadata.resourceVersion;
    env.controllers = await startControllers(env.client, { only: ['gitsync'], gitsyncCacheDir: join(env.dir, 'cache'), log: (m) => env.logs.push(m) });
    const deadline = Date.now() + 10_000;
    while ((await secretValue(env, 'y8-b')) !== 'git' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await secretValue(env, 'y8-b')).toBe('git');
    expect((await secrets.get('default', 'y8-a')).metadata.resourceVersion).toBe(rvA);
  });
});
