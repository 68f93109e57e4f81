/**
 * The registry of `berth server`: authentication on by default with Berth's identities (a Berth
 * token as bearer token or basic-auth password, checked by the API server), authorisation by RBAC
 * on registry.berth.dev/repositories (pull: view, push: edit, moving a tag: update), and uploads
 * that expire and have a size cap. A real API server and a real registry, in this process.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, rm, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeIdentity } from '../../../src/cmd/compose.js';
import { apiRegistryAccess } from '../../../src/cmd/registry-access.js';
import { startRegistry, type RunningRegistry } from '../../../src/registry/server.js';
import { startTestServer, type TestServer } from '../../helpers/api-server.js';
import { makeTempRoot } from '../runtime/helpers.js';
import { errorCode, http } from './helpers.js';
import { OCI_MANIFEST, imageManifest, pushBlob, pushImage, sha } from './images.js';

describe('registry with Berth identities (berth server)', () => {
  let t: TestServer;
  let work: string;
  let reg: RunningRegistry;
  let url: string;
  const tokens: Record<string, string> = {};
  const bearer = (who: string): Record<string, string> => ({ authorization: `Bearer ${tokens[who]}` });
  const basic = (who: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`${who}:${tokens[who]}`).toString('base64')}` });
  const uploadsOf = async (repo: string): Promise<string[]> => readdir(join(work, 'registry', 'repositories', ...repo.split('/'), '_uploads')).catch(() => []);

  beforeAll(async () => {
    t = await startTestServer({ store: 'memory' });
    work = await makeTempRoot('registry-identities');
    reg = await startRegistry({
      dataDir: work,
      listen: '127.0.0.1:0',
      api: apiRegistryAccess(() => t.server.connectInProcess()),
      limits: { maxUploadBytes: 64 * 1024, uploadMaxAgeMs: 3_600_000 },
      sweepIntervalMs: 100,
    });
    url = reg.url;
    expect((await t.api('/api/v1/namespaces', { method: 'POST', json: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } } })).status).toBe(201);
    // a role that may push new tags but not move existing ones
    const role = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'pusher', namespace: 'team' }, rules: [{ apiGroups: ['registry.berth.dev'], resources: ['repositories'], verbs: ['get', 'create'] }] };
    expect((await t.api('/apis/rbac.authorization.k8s.io/v1/namespaces/team/roles', { method: 'POST', json: role })).status).toBe(201);
    for (const [user, kind, roleName] of [['viewer', 'ClusterRole', 'view'], ['editor', 'ClusterRole', 'edit'], ['pusher', 'Role', 'pusher']] as const) {
      tokens[user] = t.server.issueProcessToken({ name: user, groups: [] });
      const binding = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: user, namespace: 'team' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind, name: roleName }, subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: user }] };
      expect((await t.api('/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings', { method: 'POST', json: binding })).status).toBe(201);
    }
    tokens.stranger = t.server.issueProcessToken({ name: 'stranger', groups: [] });
    tokens.node = t.server.issueProcessToken(nodeIdentity('node1'));
  });

  afterAll(async () => {
    await reg?.close();
    await t?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('refuses blob uploads, manifest pushes and tag overwrites without credentials (401 with a challenge)', async () => {
    const up = await http(`${url}/v2/team/app/blobs/uploads/`, { method: 'POST' });
    expect(up.status).toBe(401);
    expect(errorCode(up)).toBe('UNAUTHORIZED');
    expect(String(up.headers['www-authenticate'])).toMatch(/^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/token",service="berth-registry",scope="repository:team\/app:pull,push"/);
    const data = randomBytes(100);
    expect((await http(`${url}/v2/team/app/blobs/uploads/?digest=${sha(data)}`, { method: 'POST', body: data })).status).toBe(401);
    const manifest = imageManifest(Buffer.from('{}'), []);
    expect((await http(`${url}/v2/team/app/manifests/new`, { method: 'PUT', body: manifest, headers: { 'content-type': OCI_MANIFEST } })).status).toBe(401);
    // a tag that exists: overwriting it without credentials is refused too, and the tag stays
    const pushed = await pushImage(url, 'team/app', 'v1', bearer('editor'));
    const over = await http(`${url}/v2/team/app/manifests/v1`, { method: 'PUT', body: manifest, headers: { 'content-type': OCI_MANIFEST } });
    expect(over.status).toBe(401);
    const head = await http(`${url}/v2/team/app/manifests/v1`, { method: 'HEAD', headers: { ...bearer('viewer'), accept: OCI_MANIFEST } });
    expect(head.headers['docker-content-digest']).toBe(pushed.digest);
    // nor may anyone pull or list without credentials
    expect((await http(`${url}/v2/team/app/manifests/v1`)).status).toBe(401);
    expect((await http(`${url}/v2/_catalog`)).status).toBe(401);
    // a token the API server does not know is no credential
    expect((await http(`${url}/v2/team/app/manifests/v1`, { headers: { authorization: 'Bearer not-a-berth-token' } })).status).toBe(401);
    expect((await http(`${url}/v2/team/app/manifests/v1`, { headers: { authorization: `Basic ${Buffer.from('x:nope').toString('base64')}` } })).status).toBe(401);
  });

  it('a view token pulls but may not push; an edit token pushes (bearer and basic auth)', async () => {
    const pushed = await pushImage(url, 'team/web', 'v1', basic('editor'));
    for (const auth of [bearer('viewer'), basic('viewer')]) {
      const got = await http(`${url}/v2/team/web/manifests/v1`, { headers: { ...auth, accept: OCI_MANIFEST } });
      expect(got.status).toBe(200);
      expect(sha(got.body)).toBe(pushed.digest);
      expect((await http(`${url}/v2/team/web/blobs/${sha(pushed.layer)}`, { headers: auth })).body.equals(pushed.layer)).toBe(true);
      const up = await http(`${url}/v2/team/web/blobs/uploads/`, { method: 'POST', headers: auth });
      expect(up.status).toBe(403);
      expect(errorCode(up)).toBe('DENIED');
      expect((await http(`${url}/v2/team/web/manifests/v1`, { method: 'DELETE', headers: auth })).status).toBe(403);
    }
    // the namespace is the repository's first component: the viewer of team sees nothing of other
    const other = await http(`${url}/v2/other/web/manifests/v1`, { headers: bearer('viewer') });
    expect(other.status).toBe(403);
    // one component: namespace default, where nobody here has a role
    expect((await http(`${url}/v2/solo/blobs/uploads/`, { method: 'POST', headers: bearer('editor') })).status).toBe(403);
    // a token with no role at all: denied, not unauthenticated
    expect(errorCode(await http(`${url}/v2/team/web/manifests/v1`, { headers: bearer('stranger') }))).toBe('DENIED');
    // the catalog lists what the caller may pull
    const cat = JSON.parse((await http(`${url}/v2/_catalog`, { headers: bearer('viewer') })).body.toString()) as { repositories: string[] };
    expect(cat.repositories).toEqual(expect.arrayContaining(['team/web']));
    expect((JSON.parse((await http(`${url}/v2/_catalog`, { headers: bearer('stranger') })).body.toString()) as { repositories: string[] }).repositories).toEqual([]);
  });

  it('moving an existing tag needs update: a role with create only pushes new tags, not over old ones', async () => {
    const first = await pushImage(url, 'team/tags', 'stable', bearer('editor'));
    const mine = await pushImage(url, 'team/tags', 'fresh', bearer('pusher'));
    expect(mine.digest).toMatch(/^sha256:/);
    const manifest = imageManifest(mine.config, [mine.layer]);
    const over = await http(`${url}/v2/team/tags/manifests/stable`, { method: 'PUT', body: manifest, headers: { ...bearer('pusher'), 'content-type': OCI_MANIFEST } });
    expect(over.status).toBe(403);
    expect(JSON.parse(over.body.toString()).errors[0].message).toContain('overwrite on repository team/tags');
    const head = await http(`${url}/v2/team/tags/manifests/stable`, { method: 'HEAD', headers: { ...bearer('viewer'), accept: OCI_MANIFEST } });
    expect(head.headers['docker-content-digest']).toBe(first.digest);
    // edit has update: it may move the tag
    expect((await http(`${url}/v2/team/tags/manifests/stable`, { method: 'PUT', body: manifest, headers: { ...bearer('editor'), 'content-type': OCI_MANIFEST } })).status).toBe(201);
  });

  it('a role that names one repository (resourceNames) grants that one only, however the answers are cached', async () => {
    const role = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'one-repo', namespace: 'team' }, rules: [{ apiGroups: ['registry.berth.dev'], resources: ['repositories'], resourceNames: ['team/mine'], verbs: ['get', 'create'] }] };
    expect((await t.api('/apis/rbac.authorization.k8s.io/v1/namespaces/team/roles', { method: 'POST', json: role })).status).toBe(201);
    tokens.named = t.server.issueProcessToken({ name: 'named', groups: [] });
    const binding = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'named', namespace: 'team' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'one-repo' }, subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'named' }] };
    expect((await t.api('/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings', { method: 'POST', json: binding })).status).toBe(201);
    expect((await pushImage(url, 'team/mine', 'v1', bearer('named'))).digest).toMatch(/^sha256:/);
    // asked right after, within the decisions' cache: another repository of the namespace stays closed
    const other = await http(`${url}/v2/team/other/blobs/uploads/`, { method: 'POST', headers: bearer('named') });
    expect(other.status).toBe(403);
  });

  it('a node (system:node:NAME) pulls and pushes in every namespace, as its agent does for Containers and builds, but does not delete', async () => {
    const pushed = await pushImage(url, 'anywhere/app', 'v1', basic('node'));
    const scope = encodeURIComponent('repository:anywhere/app:pull');
    const tok = JSON.parse((await http(`${url}/token?service=berth-registry&scope=${scope}`, { headers: basic('node') })).body.toString()) as { token: string };
    const got = await http(`${url}/v2/anywhere/app/manifests/v1`, { headers: { authorization: `Bearer ${tok.token}`, accept: OCI_MANIFEST } });
    expect(got.status).toBe(200);
    expect(sha(got.body)).toBe(pushed.digest);
    expect((await http(`${url}/v2/anywhere/app/manifests/v1`, { method: 'DELETE', headers: bearer('node') })).status).toBe(403);
  });

  it("Docker's token flow: the token endpoint takes a Berth token as password and grants what RBAC allows", async () => {
    const scope = encodeURIComponent('repository:team/flow:pull,push');
    const get = async (who: string) => JSON.parse((await http(`${url}/token?service=berth-registry&scope=${scope}`, { headers: basic(who) })).body.toString()) as { token: string };
    const edit = await get('editor');
    await pushImage(url, 'team/flow', 'v1', { authorization: `Bearer ${edit.token}` });
    const view = await get('viewer');
    const denied = await http(`${url}/v2/team/flow/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${view.token}` } });
    expect(denied.status).toBe(403);
    expect(errorCode(denied)).toBe('DENIED');
    expect((await http(`${url}/v2/team/flow/manifests/v1`, { headers: { authorization: `Bearer ${view.token}`, accept: OCI_MANIFEST } })).status).toBe(200);
    const wrong = await http(`${url}/token?service=berth-registry&scope=${scope}`, { headers: { authorization: `Basic ${Buffer.from('x:wrong').toString('base64')}` } });
    expect(wrong.status).toBe(401);
  });

  it('an upload over the size cap is refused with 413 and nothing of it is left', async () => {
    // announced too large (Content-Length), in a session
    const s = await http(`${url}/v2/team/big/blobs/uploads/`, { method: 'POST', headers: bearer('editor') });
    expect(s.status).toBe(202);
    const loc = String(s.headers.location);
    const big = randomBytes(64 * 1024 + 1);
    const r = await http(`${url}${loc}`, { method: 'PATCH', body: big, headers: { ...bearer('editor'), 'content-type': 'application/octet-stream' } });
    expect(r.status).toBe(413);
    expect(errorCode(r)).toBe('SIZE_INVALID');
    expect(JSON.parse(r.body.toString()).errors[0].message).toContain('limit of 65536 bytes');
    expect(await uploadsOf('team/big')).toEqual([]);
    expect((await http(`${url}${loc}`, { headers: bearer('editor') })).status).toBe(404);
    // reaching the cap over several chunks: the chunk that crosses it ends the upload
    const s2 = await http(`${url}/v2/team/big/blobs/uploads/`, { method: 'POST', headers: bearer('editor') });
    const loc2 = String(s2.headers.location);
    expect((await http(`${url}${loc2}`, { method: 'PATCH', body: randomBytes(40 * 1024), headers: bearer('editor') })).status).toBe(202);
    const crossing = await http(`${url}${loc2}`, { method: 'PATCH', body: randomBytes(40 * 1024), headers: { ...bearer('editor'), 'content-range': `${40 * 1024}-${80 * 1024 - 1}` } });
    expect(crossing.status).toBe(413);
    expect(await uploadsOf('team/big')).toEqual([]);
    // monolithic, too large: 413, no blob, no upload
    const mono = await http(`${url}/v2/team/big/blobs/uploads/?digest=${sha(big)}`, { method: 'POST', body: big, headers: bearer('editor') });
    expect(mono.status).toBe(413);
    expect(await uploadsOf('team/big')).toEqual([]);
    expect((await http(`${url}/v2/team/big/blobs/${sha(big)}`, { method: 'HEAD', headers: bearer('editor') })).status).toBe(404);
    // a blob under the cap still goes in
    await pushBlob(url, 'team/big', randomBytes(1000), bearer('editor'));
  });

  it('an upload untouched for longer than its lifetime is refused, then swept away', async () => {
    const s = await http(`${url}/v2/team/stale/blobs/uploads/`, { method: 'POST', headers: bearer('editor') });
    const loc = String(s.headers.location);
    expect((await http(`${url}${loc}`, { method: 'PATCH', body: randomBytes(100), headers: bearer('editor') })).status).toBe(202);
    const [uuid] = await uploadsOf('team/stale');
    expect(uuid).toBeDefined();
    const dir = join(work, 'registry', 'repositories', 'team', 'stale', '_uploads', uuid!);
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
    await utimes(join(dir, 'data'), twoHoursAgo, twoHoursAgo);
    const late = await http(`${url}${loc}`, { method: 'PATCH', body: randomBytes(100), headers: bearer('editor') });
    expect(late.status).toBe(404);
    expect(errorCode(late)).toBe('BLOB_UPLOAD_UNKNOWN');
    // the periodic sweep removes the directory
    for (let i = 0; i < 200 && existsSync(dir); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(dir)).toBe(false);
    // a live upload is left alone by the sweep
    const live = await http(`${url}/v2/team/stale/blobs/uploads/`, { method: 'POST', headers: bearer('editor') });
    expect(await reg.storage.sweepUploads()).toEqual([]);
    expect((await http(`${url}${String(live.headers.location)}`, { headers: bearer('editor') })).status).toBe(204);
  });
});
