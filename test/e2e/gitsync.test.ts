/**
 * GitOps end to end: a real `berth server` (API, controllers, agent on real runc), real git
 * repositories made here (bare, commits pushed with the git CLI) served over file:// and over
 * http by `git http-backend` behind a small server with basic auth (credentials from a Secret),
 * driven by real kubectl and the berth CLI. Everything stays on loopback.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { berthArgv } from '../helpers/berth-bin.js';
import { cleanUpE2eServer } from '../helpers/e2e-cleanup.js';
import { BUSYBOX_TAR, e2eSkipReason } from '../helpers/e2e-skip.js';
import { makeRepo, serveHttp, yamlOf, type GitHttpServer, type TestRepo } from '../helpers/git-repo.js';
import { run } from '../helpers/run.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { fetchTrusting } from '../helpers/tls-fetch.js';

const skip = e2eSkipReason('gitsync', ['runc', 'conmon', 'kubectl', 'git']);
if (skip) console.warn(`skipping gitsync e2e: ${skip}`);

const POLL = { timeout: 90_000, interval: 100 };
const GV = 'berth.dev/v1alpha1';
const TOKEN = 'e2e-webhook-token';

const image = (name: string, ref: string) => yamlOf({ apiVersion: GV, kind: 'Image', metadata: { name }, spec: { ref, source: { import: { path: BUSYBOX_TAR, format: 'rootfs' } } } });
const container = (name: string, spec: Record<string, unknown>) =>
  yamlOf({ apiVersion: GV, kind: 'Container', metadata: { name, labels: { app: name } }, spec: { image: 'busybox:latest', command: ['sleep', '3600'], stopGracePeriodSeconds: 0, ...spec } });
const gitsync = (name: string, spec: Record<string, unknown>) => yamlOf({ apiVersion: GV, kind: 'GitSync', metadata: { name, namespace: 'default' }, spec: { interval: '1h', ...spec } });

describe.skipIf(!!skip)('GitOps with a berth server, kubectl and real git', () => {
  let dir: string;
  let server: ServerProcess;
  let http: GitHttpServer;
  let web: TestRepo;
  let manual: TestRepo;
  let hookFetch: ReturnType<typeof fetchTrusting>;
  const cgroupParent = `berth-e2e-gitsync-${process.pid}`;
  const kc = (...args: string[]) => run('kubectl', ['--kubeconfig', server.kubeconfig, ...args], { timeoutMs: 90_000 });
  const kcApply = (yaml: string) => run('kubectl', ['--kubeconfig', server.kubeconfig, 'apply', '-f', '-'], { input: yaml, timeoutMs: 60_000 });
  const berth = (...args: string[]) => {
    const [cmd, argv] = berthArgv([...args, '--kubeconfig', server.kubeconfig]);
    return run(cmd, argv, { timeoutMs: 120_000 });
  };
  const jp = async (kind: string, name: string, path: string) => (await kc('get', kind, name, '-o', `jsonpath={${path}}`)).stdout;
  const exists = async (kind: string, name: string) => (await kc('get', kind, name, '--ignore-not-found', '-o', 'name')).stdout.trim() !== '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-e2e-gitsync-'));
    server = await startServerProcess(join(dir, 'data'), ['--no-registry', '--cgroup-parent', cgroupParent, '--node-name', 'e2e-gitsync']);
    const cfg = parse(readFileSync(server.kubeconfig, 'utf8')) as { clusters: { cluster: Record<string, string> }[] };
    hookFetch = fetchTrusting(Buffer.from(cfg.clusters[0]!.cluster['certificate-authority-data']!, 'base64').toString());
    web = await makeRepo(join(dir, 'web'));
    manual = await makeRepo(join(dir, 'manual'));
    http = await serveHttp(join(dir, 'web'), 'deploy', 'pa55-w0rd');
  });

  afterAll(async () => {
    await http?.close();
    await cleanUpE2eServer(server, dir, cgroupParent);
  });

  it('over http with basic auth from a Secret: a commit adding a Container makes it Running', async () => {
    await web.commit({ 'deploy/image.yaml': image('busybox', 'busybox:latest'), 'deploy/keep.yaml': container('keeper', {}) });
    const secret = yamlOf({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'git-creds', namespace: 'default' }, stringData: { username: 'deploy', password: 'pa55-w0rd' } });
    const hook = yamlOf({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'hook-token', namespace: 'default' }, stringData: { token: TOKEN } });
    expect((await kcApply(`${secret}---\n${hook}`)).code).toBe(0);
    const applied = await kcApply(gitsync('web', { url: `${http.url}/remote.git`, path: 'deploy', prune: true, secretRef: { name: 'git-creds' }, webhook: { secretRef: { name: 'hook-token' } } }));
    expect(applied.stderr).toBe('');
    await expect.poll(() => jp('gitsync', 'web', '.status.conditions[?(@.type=="Ready")].status'), POLL).toBe('True');
    const rev = await web.commit({ 'deploy/web.yaml': container('web', {}) });
    await expect.poll(() => jp('gitsync', 'web', '.status.fetchedRevision'), { ...POLL, timeout: 5_000 }).not.toBe(rev).catch(() => undefined);
    const r = await berth('gitsync', 'sync', 'web');
    expect(r.stderr + r.stdout).toContain('synced');
    await expect.poll(() => jp('container', 'web', '.status.phase'), POLL).toBe('Running');
    expect(await jp('gitsync', 'web', '.status.appliedRevision')).toBe(rev);
    const table = await kc('get', 'gitsyncs');
    expect(table.stdout).toMatch(/^NAME\s+URL\s+REF\s+REVISION\s+SYNCED\s+HEALTH\s+READY/m);
    expect(table.stdout).toMatch(new RegExp(`web\\s+http://127\\.0\\.0\\.1:\\d+/remote\\.git\\s+${rev}\\s+Synced\\s+(Healthy|Progressing)`));
    const status = await berth('gitsync', 'status', 'web');
    expect(status.stdout).toContain(`Applied:       ${rev.slice(0, 12)}`);
    expect(JSON.stringify(await kc('get', 'gitsync', 'web', '-o', 'json'))).not.toContain('pa55-w0rd');
  });

  it('a commit changing its image recreates it', async () => {
    const before = await jp('container', 'web', '.status.containerID');
    const rev = await web.commit({ 'deploy/image2.yaml': image('busybox-v2', 'busybox:v2'), 'deploy/web.yaml': container('web', { image: 'busybox:v2' }) });
    await berth('gitsync', 'sync', 'web');
    await expect.poll(() => jp('gitsync', 'web', '.status.appliedRevision'), POLL).toBe(rev);
    await expect.poll(async () => (await jp('container', 'web', '.status.phase')) === 'Running' && (await jp('container', 'web', '.status.containerID')) !== before, POLL).toBe(true);
    expect(await jp('container', 'web', '.spec.image')).toBe('busybox:v2');
  });

  it('a kubectl edit of a managed field is reverted at once', async () => {
    const t0 = Date.now();
    const edit = await run('kubectl', ['--kubeconfig', server.kubeconfig, 'edit', 'container', 'web'], { env: { ...process.env, KUBE_EDITOR: 'sed -i -e s/app:\\ web/app:\\ edited/' }, timeoutMs: 60_000 });
    expect(edit.code).toBe(0);
    await expect.poll(() => jp('container', 'web', '.metadata.labels.app'), { timeout: 10_000, interval: 20 }).toBe('web');
    console.log(`gitsync e2e: kubectl edit reverted ${Date.now() - t0} ms after kubectl edit started`);
    await expect.poll(async () => (await kc('get', 'events', '--field-selector', 'involvedObject.name=web,involvedObject.kind=GitSync', '-o', 'jsonpath={.items[*].message}')).stdout, POLL).toMatch(/Container default\/web: \.metadata\.labels\.app changed by kubectl-edit/);
  });

  it('the webhook with a valid signature makes a new commit Running; a bad signature is 401 and fetches nothing', async () => {
    const path = await jp('gitsync', 'web', '.status.webhookPath');
    expect(path).toMatch(/^\/hooks\/git\/[0-9a-f]{40}$/);
    const rev = await web.commit({ 'deploy/hooked.yaml': container('hooked', {}) });
    const body = JSON.stringify({ ref: 'refs/heads/main', after: rev });
    const seen = http.requests.length;
    const bad = await hookFetch(`${server.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` } });
    expect(bad.status).toBe(401);
    expect(http.requests.length).toBe(seen);
    expect(await exists('container', 'hooked')).toBe(false);
    const t0 = Date.now();
    const sig = createHmac('sha256', TOKEN).update(body).digest('hex');
    const good = await hookFetch(`${server.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': `sha256=${sig}`, 'x-github-event': 'push' } });
    expect(good.status).toBe(202);
    await expect.poll(() => jp('container', 'hooked', '.status.phase'), POLL).toBe('Running');
    console.log(`gitsync e2e: webhook to Running ${Date.now() - t0} ms`);
    expect(http.requests.length).toBeGreaterThan(seen);
  });

  it('a commit removing a Container deletes it (prune)', async () => {
    const rev = await web.commit({ 'deploy/hooked.yaml': null });
    await berth('gitsync', 'sync', 'web');
    await expect.poll(() => jp('gitsync', 'web', '.status.appliedRevision'), POLL).toBe(rev);
    await expect.poll(() => exists('container', 'hooked'), POLL).toBe(false);
    expect(await exists('container', 'web')).toBe(true);
  });

  it('over file:// with autoSync false: a new commit is OutOfSync until berth gitsync sync, a hand edit is still reverted, nothing is pruned with prune off', async () => {
    const first = await manual.commit({ 'm1.yaml': container('manual-1', {}), 'm2.yaml': container('manual-2', {}) });
    expect((await kcApply(gitsync('manual', { url: manual.url, autoSync: false, interval: '2s' }))).code).toBe(0);
    await expect.poll(() => jp('gitsync', 'manual', '.status.fetchedRevision'), POLL).toBe(first);
    expect(await exists('container', 'manual-1')).toBe(false);
    expect((await berth('gitsync', 'sync', 'manual')).code).toBe(0);
    await expect.poll(() => jp('container', 'manual-1', '.status.phase'), POLL).toBe('Running');
    const second = await manual.commit({ 'm1.yaml': container('manual-1', { args: ['3601'], command: ['sleep'] }), 'm2.yaml': null });
    await expect.poll(() => jp('gitsync', 'manual', '.status.conditions[?(@.type=="Synced")].status'), POLL).toBe('False');
    expect(await jp('gitsync', 'manual', '.status.fetchedRevision')).toBe(second);
    expect(await jp('gitsync', 'manual', '.status.appliedRevision')).toBe(first);
    const diff = await berth('gitsync', 'diff', 'manual');
    expect(diff.code).toBe(1);
    expect(diff.stdout).toMatch(/^\+\s+- "3601"/m);
    await kc('patch', 'container', 'manual-1', '--type', 'merge', '-p', '{"metadata":{"labels":{"app":"by-hand"}}}');
    await expect.poll(() => jp('container', 'manual-1', '.metadata.labels.app'), { timeout: 10_000, interval: 20 }).toBe('manual-1');
    expect(await jp('container', 'manual-1', '.spec.args')).toBe('');
    expect((await berth('gitsync', 'sync', 'manual')).code).toBe(0);
    await expect.poll(() => jp('container', 'manual-1', '.spec.args'), POLL).toBe('["3601"]');
    expect(await jp('gitsync', 'manual', '.status.appliedRevision')).toBe(second);
    expect(await exists('container', 'manual-2')).toBe(true);
    const history = await berth('gitsync', 'history', 'manual');
    expect(history.stdout).toContain(second.slice(0, 12));
  });

  it('suspend and resume; the metrics pass promtool', async () => {
    expect((await berth('gitsync', 'suspend', 'manual')).stdout).toContain('suspended');
    await expect.poll(() => jp('gitsync', 'manual', '.status.conditions[?(@.type=="Ready")].reason'), POLL).toBe('Suspended');
    expect((await berth('gitsync', 'resume', 'manual')).stdout).toContain('resumed');
    await expect.poll(() => jp('gitsync', 'manual', '.status.conditions[?(@.type=="Ready")].status'), POLL).toBe('True');
    const table = await berth('gitsync', 'status');
    expect(table.stdout).toMatch(/^NAME\s+REVISION\s+SYNC\s+HEALTH\s+READY\s+SUSPENDED\s+MESSAGE$/m);
    // manual-2 left git but prune is off: kept, and listed as OutOfSync (Extra)
    expect(table.stdout).toMatch(/^manual\s+[0-9a-f]{12}\s+OutOfSync\s+Healthy\s+True\s+false/m);
    expect(table.stdout).toMatch(/^web\s+[0-9a-f]{12}\s+Synced\s+Healthy\s+True\s+false/m);
    expect((await berth('gitsync', 'status', 'manual')).stdout).toMatch(/Out of sync:\n {2}Container default\/manual-2 {2}Extra/);
    const metrics = await (await server.api('/metrics')).text();
    for (const name of ['berth_gitsync_sync_total', 'berth_gitsync_sync_duration_seconds', 'berth_gitsync_commit_to_ready_seconds', 'berth_gitsync_drift_corrections_total', 'berth_gitsync_managed_objects', 'berth_gitsync_last_applied_timestamp_seconds']) {
      expect(metrics).toContain(`# TYPE ${name} `);
    }
    expect(metrics).toMatch(/^berth_gitsync_drift_corrections_total [1-9]/m);
    expect(metrics).toMatch(/^berth_gitsync_managed_objects\{namespace="default",gitsync="web"\} [1-9]/m);
    const promtool = await run('sh', ['-c', 'command -v promtool']);
    if (promtool.code !== 0) {
      console.warn('promtool missing (Debian package prometheus; scripts/setup): the metrics format check is skipped');
      return;
    }
    const checked = await run('promtool', ['check', 'metrics'], { input: metrics });
    expect(checked.stdout + checked.stderr).toBe('');
    expect(checked.code).toBe(0);
  });

  it('with rollbackOnFailure a revision whose container crashes is rolled back', { timeout: 180_000 }, async () => {
    const rb = await makeRepo(join(dir, 'rb'));
    const good = await rb.commit({ 'image.yaml': image('rb-image', 'busybox:rb'), 'app.yaml': container('rb-app', { image: 'busybox:rb' }), 'other.yaml': container('rb-other', { image: 'busybox:rb' }) });
    expect((await kcApply(gitsync('rb', { url: rb.url, rollbackOnFailure: true, timeout: '2m' }))).code).toBe(0);
    await expect.poll(() => jp('gitsync', 'rb', '.status.lastHealthyRevision'), POLL).toBe(good).catch(async (e: unknown) => { console.log((await kc('get', 'gitsync', 'rb', '-o', 'yaml')).stdout, (await kc('get', 'containers,images', '-o', 'wide')).stdout); throw e; });
    const bad = await rb.commit({ 'app.yaml': container('rb-app', { image: 'busybox:rb', command: ['sh', '-c', 'exit 3'], restartPolicy: 'Never' }) });
    await berth('gitsync', 'sync', 'rb', '--no-wait');
    await expect.poll(() => jp('gitsync', 'rb', '.status.history[0].result'), POLL).toBe('RolledBack').catch(async (e: unknown) => { console.log((await kc('get', 'gitsync', 'rb', '-o', 'yaml')).stdout, (await kc('get', 'containers', '-o', 'wide')).stdout); throw e; });
    expect(await jp('gitsync', 'rb', '.status.appliedRevision')).toBe(good);
    expect(await jp('gitsync', 'rb', '.status.history[1].revision')).toBe(bad);
    await expect.poll(() => jp('container', 'rb-app', '.status.phase'), POLL).toBe('Running');
    expect(await jp('container', 'rb-app', '.spec.command')).toBe('["sleep","3600"]');
    expect(await jp('gitsync', 'rb', '.status.conditions[?(@.type=="Ready")].reason')).toBe('RolledBack');
  });
});
