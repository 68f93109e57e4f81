/**
 * GitSync benchmark (issue 14), as root on real runc: a `berth server` process, a real git
 * repository (file://), and side by side in the same run what a user would do by hand,
 * `kubectl apply --server-side -f DIR` of the same objects. Phases:
 *  1. kubectl: 500 objects (Volumes, Images, Containers with restartPolicy Never that exit at once)
 *     applied from a directory: to kubectl's exit (applied), and to all healthy.
 *  2. Berth: the same objects in one commit: from the push (and a fetch request) to the GitSync's
 *     appliedRevision (applied) and to all healthy; API writes per object.
 *  3. No-change resyncs of those 500 objects: time of each (berth_gitsync_sync_duration_seconds)
 *     and API writes (apiserver_request_total) while they run.
 *  4. Drift: 50 hand edits (a label, as kubectl edit would PATCH it), time to the revert seen by a watch.
 *  5. Webhook: signed pushes, time from the POST to the change applied (seen by a watch).
 *  6. Memory: `berth apiserver` + `berth controller --controllers gitsync` alone, RSS of the
 *     controller before and after a GitSync of 5,000 objects.
 * Writes bench-results/gitsync.json. Standalone: `npx tsx test/bench/gitsync.bench.ts` after `npm run build`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { healthOf } from '../../src/controllers/gitsync/health.js';
import { Runtime } from '../../src/runtime/index.js';
import { berthArgv, ROOT } from '../helpers/berth-bin.js';
import { makeRepo } from '../helpers/git-repo.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { fetchTrusting } from '../helpers/tls-fetch.js';
import { WatchReader } from '../helpers/watch-stream.js';
import { mountsUnder, runtimeSkipReason } from '../integration/runtime/helpers.js';
import { sweepCgroups } from './lib/cgroups.js';
import { machineBusyMs } from './lib/machine-cpu.js';
import { fmt, printTable, summary } from './lib/stats.js';

const N = Number(process.env.BENCH_GITSYNC_N ?? 500);
const MEMORY_N = Number(process.env.BENCH_GITSYNC_MEMORY_N ?? 5000);
const DRIFT_EDITS = Number(process.env.BENCH_GITSYNC_DRIFT ?? 50);
const WEBHOOK_ROUNDS = Number(process.env.BENCH_GITSYNC_WEBHOOKS ?? 20);
const RESYNCS = Number(process.env.BENCH_GITSYNC_RESYNCS ?? 10);
const BUSYBOX_TAR = '/usr/local/share/berth/busybox-rootfs.tar';
const GV = 'berth.dev/v1alpha1';
const TOKEN = 'bench-webhook-token';
const PARENT = `berth-bench-gitsync-${process.pid}`;
const KINDS = ['volumes', 'images', 'containers'] as const;

const now = (): number => performance.now();
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The objects of one side: 5% Volumes, 2% Images (one ref each), the rest Containers that run `true` once. */
function objects(ns: string, n: number, prefix: string): Record<string, unknown>[] {
  const volumes = Math.max(1, Math.round(n * 0.05));
  const images = Math.max(1, Math.round(n * 0.02));
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < volumes; i++) out.push({ apiVersion: GV, kind: 'Volume', metadata: { name: `vol-${i}`, namespace: ns, labels: { app: `vol-${i}` } }, spec: {} });
  for (let i = 0; i < images; i++) out.push({ apiVersion: GV, kind: 'Image', metadata: { name: `img-${i}`, namespace: ns }, spec: { ref: `bench/${prefix}-${i}:latest`, source: { import: { path: BUSYBOX_TAR, format: 'rootfs' } } } });
  for (let i = 0; out.length < n; i++) {
    out.push({ apiVersion: GV, kind: 'Container', metadata: { name: `ctr-${i}`, namespace: ns, labels: { app: `ctr-${i}` } }, spec: { image: `bench/${prefix}-${i % images}:latest`, command: ['true'], restartPolicy: 'Never', stopGracePeriodSeconds: 0 } });
  }
  return out;
}

/** One file per object, named so that kubectl (alphabetical) applies Volumes, then Images, then Containers. */
async function writeManifests(dir: string, objs: Record<string, unknown>[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  const order: Record<string, string> = { Volume: '0', Image: '1', Container: '2' };
  for (const o of objs) {
    const m = o.metadata as { name: string };
    await writeFile(join(dir, `${order[o.kind as string]}-${m.name}.yaml`), stringify(o));
  }
}

/** Every Volume, Image and Container of the node as a watch keeps them, for waits on health. */
class Cluster {
  readonly objs = new Map<string, any>();
  private readonly waiters = new Set<() => void>();
  private readers: WatchReader[] = [];

  constructor(private readonly server: ServerProcess) {}

  async start(): Promise<void> {
    for (const k of KINDS) {
      const res = await this.server.api(`/apis/${GV}/${k}?watch=true`);
      if (!res.ok) throw new Error(`watch ${k}: ${res.status}`);
      const reader = new WatchReader(res);
      this.readers.push(reader);
      void (async () => {
        for (;;) {
          const e = await reader.next().catch(() => undefined);
          if (!e) return;
          const key = `${e.object.kind}/${e.object.metadata.namespace}/${e.object.metadata.name}`;
          if (e.type === 'DELETED') this.objs.delete(key);
          else this.objs.set(key, e.object);
          for (const w of [...this.waiters]) w();
        }
      })();
    }
  }

  /** Resolves with the time `check` first holds (checked on every event). */
  until(check: () => boolean, what: string, timeoutMs = 300_000): Promise<number> {
    if (check()) return Promise.resolve(now());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const w = () => {
        if (!check()) return;
        clearTimeout(timer);
        this.waiters.delete(w);
        resolve(now());
      };
      this.waiters.add(w);
    });
  }

  inNamespace(ns: string): any[] {
    return [...this.objs.values()].filter((o) => o.metadata.namespace === ns);
  }

  allHealthy(ns: string, n: number): boolean {
    const objs = this.inNamespace(ns);
    return objs.length === n && objs.every((o) => healthOf(o).health === 'Healthy');
  }

  async stop(): Promise<void> {
    for (const r of this.readers) await r.cancel().catch(() => undefined);
  }
}

async function metricsText(server: ServerProcess): Promise<string> {
  return (await server.api('/metrics')).text();
}

/** API write requests (POST/PUT/PATCH/DELETE) by "VERB resource[/subresource]". */
function writes(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^apiserver_request_total\{verb="(POST|PUT|PATCH|DELETE)",resource="([^"]*)",subresource="([^"]*)",code="\d+"\} (\d+)$/gm)) {
    const key = `${m[1]} ${m[2]}${m[3] ? `/${m[3]}` : ''}`;
    out.set(key, (out.get(key) ?? 0) + Number(m[4]));
  }
  return out;
}

function diffCounts(a: Map<string, number>, b: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of b) if (v - (a.get(k) ?? 0) > 0) out[k] = v - (a.get(k) ?? 0);
  return out;
}

function metric(text: string, name: string, labels = ''): number {
  const re = new RegExp(`^${name}${labels ? `\\{${labels.replace(/[{}]/g, '')}\\}` : '(\\{[^}]*\\})?'} ([0-9.e+-]+)$`, 'gm');
  let total = 0;
  for (const m of text.matchAll(re)) total += Number(m[m.length - 1]);
  return total;
}

function kubectl(kubeconfig: string, args: string[]): Promise<{ code: number; ms: number; out: string }> {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const child = spawn('kubectl', ['--kubeconfig', kubeconfig, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, ms: now() - t0, out }));
  });
}

async function jsonOf(server: ServerProcess, path: string): Promise<any> {
  const res = await server.api(path);
  return res.ok ? res.json() : undefined;
}

async function patch(server: ServerProcess, path: string, body: unknown, manager: string): Promise<void> {
  const res = await server.api(`${path}?fieldManager=${manager}`, { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`PATCH ${path}: ${res.status} ${await res.text()}`);
}

const rssOf = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;

// ---------- cleanup ----------

const toClean: { work?: string; server?: ServerProcess; procs: ChildProcess[] } = { procs: [] };

async function cleanupAll(): Promise<void> {
  for (const p of toClean.procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
  const { work, server } = toClean;
  if (server) {
    for (const ns of ['kubectl', 'gitops']) await server.api(`/api/v1/namespaces/${ns}`, { method: 'DELETE' }).catch(() => undefined);
    const deadline = Date.now() + 180_000;
    while (Date.now() < deadline) {
      const left = (await jsonOf(server, `/apis/${GV}/containers`).catch(() => undefined))?.items?.length ?? 0;
      if (left === 0) break;
      await delay(500);
    }
    await server.kill('SIGTERM');
  }
  if (work) {
    const rt = new Runtime({ root: join(work, 'data', 'runtime'), cgroupParent: PARENT });
    for (const c of await rt.containers.records.all().catch(() => [])) await rt.containers.remove(c.id, { force: true, volumes: true }).catch(() => undefined);
    for (const m of mountsUnder(work).reverse()) spawnSync('umount', ['-l', m]);
  }
  await sweepCgroups([PARENT]);
  if (work) await rm(work, { recursive: true, force: true });
}

// ---------- phases ----------

interface SideResult {
  appliedMs: number;
  healthyMs: number;
  machineCpuMs: number;
  writes: Record<string, number>;
}

async function kubectlSide(server: ServerProcess, cluster: Cluster, work: string): Promise<SideResult> {
  const objs = objects('kubectl', N, 'kubectl');
  const dir = join(work, 'kubectl-manifests');
  await writeManifests(dir, objs);
  const ns = await kubectl(server.kubeconfig, ['create', 'namespace', 'kubectl']);
  if (ns.code !== 0) throw new Error(ns.out);
  const w0 = writes(await metricsText(server));
  const cpu0 = machineBusyMs();
  const t0 = now();
  const r = await kubectl(server.kubeconfig, ['apply', '--server-side', '--field-manager', 'bench-kubectl', '-f', dir]);
  if (r.code !== 0) throw new Error(`kubectl apply failed: ${r.out.slice(-2000)}`);
  const applied = now() - t0;
  const healthy = (await cluster.until(() => cluster.allHealthy('kubectl', N), 'kubectl side healthy', 600_000)) - t0;
  return { appliedMs: applied, healthyMs: healthy, machineCpuMs: machineBusyMs() - cpu0, writes: diffCounts(w0, writes(await metricsText(server))) };
}

async function gitopsSide(server: ServerProcess, cluster: Cluster, repo: Awaited<ReturnType<typeof makeRepo>>, work: string): Promise<SideResult & { revision: string }> {
  const objs = objects('gitops', N, 'gitops');
  const files: Record<string, string> = {};
  const order: Record<string, string> = { Volume: '0', Image: '1', Container: '2' };
  for (const o of objs) files[`deploy/${order[o.kind as string]}-${(o.metadata as { name: string }).name}.yaml`] = stringify(o);
  const w0 = writes(await metricsText(server));
  const cpu0 = machineBusyMs();
  const t0 = now();
  const revision = await repo.commit(files, '500 objects');
  // a push notification (what a webhook does), so that the interval does not count
  await patch(server, `/apis/${GV}/namespaces/default/gitsyncs/bench`, { metadata: { annotations: { 'berth.dev/requested-at': new Date().toISOString() } } }, 'bench');
  const gsPath = `/apis/${GV}/namespaces/default/gitsyncs/bench`;
  let applied = 0;
  for (;;) {
    const gs = await jsonOf(server, gsPath);
    if (gs?.status?.appliedRevision === revision) {
      applied = now() - t0;
      break;
    }
    if (now() - t0 > 600_000) throw new Error(`the GitSync did not apply ${revision}: ${JSON.stringify(gs?.status?.conditions)}`);
    await delay(20);
  }
  void work;
  const healthy = (await cluster.until(() => cluster.allHealthy('gitops', N), 'gitops side healthy', 600_000)) - t0;
  return { revision, appliedMs: applied, healthyMs: healthy, machineCpuMs: machineBusyMs() - cpu0, writes: diffCounts(w0, writes(await metricsText(server))) };
}

async function resyncs(server: ServerProcess): Promise<{ durationsMs: number[]; writes: Record<string, number> }> {
  const gsPath = `/apis/${GV}/namespaces/default/gitsyncs/bench`;
  // the agent may still be writing the last containers' statuses: wait until nothing writes for 3 s
  let quiet = writes(await metricsText(server));
  for (let still = 0, i = 0; still < 3 && i < 120; i++) {
    await delay(1000);
    const next = writes(await metricsText(server));
    still = Object.keys(diffCounts(quiet, next)).length === 0 ? still + 1 : 0;
    quiet = next;
  }
  await patch(server, gsPath, { spec: { interval: '1s' } }, 'bench');
  await delay(2500);
  const w0 = writes(await metricsText(server));
  const durations: number[] = [];
  let text = await metricsText(server);
  let count = metric(text, 'berth_gitsync_sync_duration_seconds_count', 'result="unchanged"');
  let sum = metric(text, 'berth_gitsync_sync_duration_seconds_sum', 'result="unchanged"');
  const deadline = now() + 120_000;
  while (durations.length < RESYNCS && now() < deadline) {
    await delay(40);
    text = await metricsText(server);
    const c = metric(text, 'berth_gitsync_sync_duration_seconds_count', 'result="unchanged"');
    const s = metric(text, 'berth_gitsync_sync_duration_seconds_sum', 'result="unchanged"');
    if (c === count + 1) durations.push((s - sum) * 1000);
    count = c;
    sum = s;
  }
  const w = diffCounts(w0, writes(await metricsText(server)));
  await patch(server, gsPath, { spec: { interval: '1h' } }, 'bench');
  return { durationsMs: durations, writes: w };
}

async function driftEdits(server: ServerProcess, cluster: Cluster): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < DRIFT_EDITS; i++) {
    const name = `ctr-${i}`;
    const key = `Container/gitops/${name}`;
    const t0 = now();
    await patch(server, `/apis/${GV}/namespaces/gitops/containers/${name}`, { metadata: { labels: { app: `edited-${i}` } } }, 'kubectl-edit');
    await cluster.until(() => cluster.objs.get(key)?.metadata.labels?.app === `edited-${i}`, `edit of ${name} seen`, 30_000).catch(() => undefined);
    const t1 = await cluster.until(() => cluster.objs.get(key)?.metadata.labels?.app === name, `revert of ${name}`, 30_000);
    out.push(t1 - t0);
  }
  return out;
}

async function webhooks(server: ServerProcess, cluster: Cluster, repo: Awaited<ReturnType<typeof makeRepo>>): Promise<number[]> {
  const gs = await jsonOf(server, `/apis/${GV}/namespaces/default/gitsyncs/bench`);
  const path = gs.status.webhookPath as string;
  const cfg = parse(readFileSync(server.kubeconfig, 'utf8')) as { clusters: { cluster: Record<string, string> }[] };
  const hookFetch = fetchTrusting(Buffer.from(cfg.clusters[0]!.cluster['certificate-authority-data']!, 'base64').toString());
  const out: number[] = [];
  for (let i = 0; i < WEBHOOK_ROUNDS; i++) {
    const started = now();
    const ctrs = objects('gitops', N, 'gitops').filter((o) => o.kind === 'Container');
    const obj = ctrs[ctrs.length - 1 - i]!;
    const name = (obj.metadata as { name: string }).name;
    (obj.metadata as { annotations?: Record<string, string> }).annotations = { 'bench/round': String(i) };
    await repo.commit({ [`deploy/2-${name}.yaml`]: stringify(obj) }, `round ${i}`);
    const body = JSON.stringify({ ref: 'refs/heads/main' });
    const sig = createHmac('sha256', TOKEN).update(body).digest('hex');
    const key = `Container/gitops/${name}`;
    const t0 = now();
    const res = await hookFetch(`${server.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': `sha256=${sig}` } });
    if (res.status !== 202) throw new Error(`webhook answered ${res.status}: ${await res.text()}`);
    const t1 = await cluster.until(() => cluster.objs.get(key)?.metadata.annotations?.['bench/round'] === String(i), `webhook round ${i}`, 30_000);
    out.push(t1 - t0);
    // the webhook allows a request a second per id: stay under it
    const spent = now() - started;
    if (spent < 1100) await delay(1100 - spent);
  }
  return out;
}

async function memoryPhase(work: string): Promise<{ idleRss: number; loadedRss: number; objects: number; applyMs: number } | { skipped: string }> {
  const dataDir = join(work, 'mem-data');
  const api = spawn(...berthArgv(['apiserver', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--store', 'memory:']), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  toClean.procs.push(api);
  let apiOut = '';
  api.stdout!.on('data', (d: Buffer) => (apiOut += d.toString()));
  api.stderr!.on('data', (d: Buffer) => (apiOut += d.toString()));
  const kubeconfig = join(dataDir, 'kubeconfig');
  const t = Date.now();
  while (!/listening on/i.test(apiOut) || !existsSync(kubeconfig)) {
    if (Date.now() - t > 60_000 || api.exitCode !== null) return { skipped: `berth apiserver did not start: ${apiOut.slice(-500)}` };
    await delay(100);
  }
  const ctl = spawn(...berthArgv(['controller', '--kubeconfig', kubeconfig, '--controllers', 'gitsync', '--cache-dir', join(work, 'mem-cache')]), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  toClean.procs.push(ctl);
  let ctlOut = '';
  ctl.stdout!.on('data', (d: Buffer) => (ctlOut += d.toString()));
  ctl.stderr!.on('data', (d: Buffer) => (ctlOut += d.toString()));
  while (!/running gitsync/.test(ctlOut)) {
    if (Date.now() - t > 60_000 || ctl.exitCode !== null) return { skipped: `berth controller did not start: ${ctlOut.slice(-500)}` };
    await delay(100);
  }
  await delay(1000);
  const idleRss = rssOf(ctl.pid!);
  const repo = await makeRepo(join(work, 'mem-repo'));
  const files: Record<string, string> = {};
  const secrets = Math.round(MEMORY_N / 5);
  for (let i = 0; i < secrets; i++) files[`m/s-${i}.yaml`] = stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: `s-${i}`, namespace: 'default', labels: { app: 'mem' } }, stringData: { value: `secret number ${i}` } });
  for (let i = 0; i < MEMORY_N - secrets; i++) files[`m/c-${i}.yaml`] = stringify({ apiVersion: GV, kind: 'Container', metadata: { name: `c-${i}`, namespace: 'default', labels: { app: 'mem' } }, spec: { image: 'busybox:latest', command: ['sleep', '3600'], env: [{ name: 'N', value: String(i) }] } });
  const rev = await repo.commit(files, `${MEMORY_N} objects`);
  const gs = stringify({ apiVersion: GV, kind: 'GitSync', metadata: { name: 'mem', namespace: 'default' }, spec: { url: repo.url, path: 'm', interval: '1h' } });
  await writeFile(join(work, 'mem-gs.yaml'), gs);
  const t0 = now();
  const created = await kubectl(kubeconfig, ['apply', '-f', join(work, 'mem-gs.yaml')]);
  if (created.code !== 0) return { skipped: `creating the GitSync failed: ${created.out}` };
  for (;;) {
    const r = await kubectl(kubeconfig, ['get', 'gitsync', 'mem', '-o', 'jsonpath={.status.appliedRevision}']);
    if (r.out.trim() === rev) break;
    if (now() - t0 > 600_000) return { skipped: `the 5,000-object GitSync was not applied in 10 minutes: ${ctlOut.slice(-1000)}` };
    await delay(250);
  }
  const applyMs = now() - t0;
  await delay(3000);
  const loadedRss = rssOf(ctl.pid!);
  ctl.kill('SIGTERM');
  api.kill('SIGTERM');
  return { idleRss, loadedRss, objects: MEMORY_N, applyMs };
}

// ---------- main ----------

async function main(): Promise<Record<string, unknown> | undefined> {
  const skip = runtimeSkipReason() ?? (existsSync(BUSYBOX_TAR) ? undefined : `${BUSYBOX_TAR} is missing (run scripts/setup as root)`);
  if (skip) {
    console.log(`gitsync bench skipped: ${skip}`);
    return undefined;
  }
  if (!existsSync(fileURLToPath(new URL('../../dist/cmd/main.js', import.meta.url)))) throw new Error('dist/ is missing: run `npm run build` first');
  const work = await mkdtemp(join(tmpdir(), 'berth-bench-gitsync-'));
  toClean.work = work;
  const load0 = loadavg();
  const server = await startServerProcess(join(work, 'data'), ['--no-registry', '--cgroup-parent', PARENT, '--node-name', 'bench-node']);
  toClean.server = server;
  const cluster = new Cluster(server);
  await cluster.start();
  const cores = Number(spawnSync('nproc').stdout.toString().trim());
  console.log(`gitsync bench: ${N} objects per side, ${cores} cores, load ${load0.map((l) => l.toFixed(2)).join(' ')}`);

  // the repository and the GitSync, Ready on an empty path first
  const repo = await makeRepo(join(work, 'repo'));
  await repo.commit({ 'README.md': 'bench\n' }, 'empty');
  const setup = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'gitops' } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'hook', namespace: 'default' }, stringData: { token: TOKEN } },
    { apiVersion: GV, kind: 'GitSync', metadata: { name: 'bench', namespace: 'default' }, spec: { url: repo.url, path: 'deploy', interval: '1h', prune: true, timeout: '10m', webhook: { secretRef: { name: 'hook' } } } },
  ];
  await writeFile(join(work, 'setup.yaml'), setup.map((o) => stringify(o)).join('---\n'));
  const applied = await kubectl(server.kubeconfig, ['apply', '-f', join(work, 'setup.yaml')]);
  if (applied.code !== 0) throw new Error(applied.out);
  for (;;) {
    const gs = await jsonOf(server, `/apis/${GV}/namespaces/default/gitsyncs/bench`);
    if (gs?.status?.webhookPath && gs.status.conditions?.some((c: { type: string; reason: string }) => c.type === 'Ready' && c.reason !== 'Progressing')) break;
    await delay(100);
  }

  console.log(`  1. kubectl apply --server-side -f DIR of ${N} objects`);
  const k = await kubectlSide(server, cluster, work);
  console.log(`     applied ${fmt(k.appliedMs)} ms, all healthy ${fmt(k.healthyMs)} ms`);
  console.log('     deleting its Containers and Volumes before the GitSync side (its Images stay: idle, and other refs)');
  for (const k of ['containers', 'volumes']) await server.api(`/apis/${GV}/namespaces/kubectl/${k}`, { method: 'DELETE' });
  await cluster.until(() => cluster.inNamespace('kubectl').every((o) => o.kind === 'Image'), 'kubectl side deleted', 600_000);
  await delay(3000);

  console.log(`  2. GitSync: one commit of the same ${N} objects`);
  const g = await gitopsSide(server, cluster, repo, work);
  console.log(`     applied ${fmt(g.appliedMs)} ms, all healthy ${fmt(g.healthyMs)} ms`);
  // the controller's own account of that sync (one log line): where the time went
  const line = server.output().split('\n').find((l) => l.includes(`${g.revision.slice(0, 12)} applied `) && l.includes('after validation began'));
  const m = line ? /applied (\d+) ms after validation began: dry run (\d+) ms, writes (\d+) ms, waiting for waves to be healthy (\d+) ms/.exec(line) : null;
  const breakdown = m ? { validationToAppliedMs: Number(m[1]), dryRunMs: Number(m[2]), writesMs: Number(m[3]), healthWaitMs: Number(m[4]), pushToValidationMs: g.appliedMs - Number(m[1]) } : undefined;
  if (breakdown) console.log(`     of which: fetch+render ${fmt(breakdown.pushToValidationMs)} ms, dry run ${breakdown.dryRunMs} ms, writes ${breakdown.writesMs} ms, waiting for Volumes and Images to be healthy ${breakdown.healthWaitMs} ms`);
  const load1 = loadavg();

  console.log(`  3. no-change resyncs of ${N} objects`);
  const r = await resyncs(server);
  console.log(`  4. drift: ${DRIFT_EDITS} hand edits`);
  const d = await driftEdits(server, cluster);
  console.log(`  5. webhook: ${WEBHOOK_ROUNDS} signed pushes`);
  const w = await webhooks(server, cluster, repo);
  await cluster.stop();
  const load2 = loadavg();

  console.log(`  6. memory of berth controller --controllers gitsync at ${MEMORY_N} objects`);
  const mem = MEMORY_N > 0 ? await memoryPhase(work) : { skipped: 'BENCH_GITSYNC_MEMORY_N=0' };

  const sR = summary(r.durationsMs);
  const sD = summary(d);
  const sW = summary(w);
  const writesOf = (x: Record<string, number>) => Object.values(x).reduce((a, b) => a + b, 0);
  // what the controller could have written: anything but the bench's own interval patches and the
  // node's writes of its Node and objects' status subresources (the agent's heartbeat and reports)
  const agentOnly = (k: string) => k === 'PATCH gitsyncs' || /^PATCH (nodes|containers|volumes|images)\/status$/.test(k);
  const resyncWrites = Object.entries(r.writes).filter(([k]) => !agentOnly(k)).reduce((a, [, v]) => a + v, 0);
  console.log(`\nFrom a commit of ${N} objects (${Math.round(N * 0.05)} Volumes, ${Math.round(N * 0.02)} Images, the rest Containers that exit at once), ms`);
  printTable(['', 'applied', 'all healthy', 'machine cpu ms', 'API writes'], [
    ['kubectl apply --server-side -f DIR', fmt(k.appliedMs), fmt(k.healthyMs), fmt(k.machineCpuMs), writesOf(k.writes)],
    ['berth GitSync (push -> applied)', fmt(g.appliedMs), fmt(g.healthyMs), fmt(g.machineCpuMs), writesOf(g.writes)],
    ['ratio berth/kubectl', `${fmt(g.appliedMs / k.appliedMs, 2)}x`, `${fmt(g.healthyMs / k.healthyMs, 2)}x`, '', ''],
  ]);
  if (breakdown) console.log(`GitSync applied without the waits for wave health (what kubectl never waits for): ${fmt(g.appliedMs - breakdown.healthWaitMs)} ms (${fmt((g.appliedMs - breakdown.healthWaitMs) / k.appliedMs, 2)}x kubectl)`);
  console.log('\nAPI writes by request, kubectl side:', JSON.stringify(k.writes));
  console.log('API writes by request, GitSync side:', JSON.stringify(g.writes));
  console.log(`\nNo-change resync of ${N} objects (ms; ${sR.n} resyncs), API writes that could be the controller's: ${resyncWrites} (all writes in the window, the agent's and the bench's included: ${JSON.stringify(r.writes)})`);
  const row = (label: string, s: ReturnType<typeof summary>) => [label, s.n, fmt(s.p50), fmt(s.p90), fmt(s.p99), fmt(s.max)];
  printTable(['', 'n', 'p50', 'p90', 'p99', 'max'], [row('no-change resync', sR), row('drift revert (edit -> reverted)', sD), row('webhook -> applied', sW)]);
  if ('skipped' in mem) console.log(`\nmemory phase skipped: ${mem.skipped}`);
  else console.log(`\nberth controller (gitsync only) RSS: ${fmt(mem.idleRss / 2 ** 20)} MiB idle, ${fmt(mem.loadedRss / 2 ** 20)} MiB with ${mem.objects} objects applied (applied in ${fmt(mem.applyMs / 1000)} s)`);
  if (process.env.BENCH_GITSYNC_DEBUG) console.log(server.output().split('\n').filter((l) => l.includes('gitsync')).join('\n'));
  console.log(`load average: start ${load0.map((l) => l.toFixed(2)).join(' ')}, after the sides ${load1.map((l) => l.toFixed(2)).join(' ')}, end ${load2.map((l) => l.toFixed(2)).join(' ')}`);
  const targets = {
    appliedUnder10s: g.appliedMs < 10_000,
    appliedNoSlowerThanKubectl: g.appliedMs <= k.appliedMs,
    resyncUnder200ms: sR.n > 0 && sR.max < 200,
    resyncZeroWrites: resyncWrites === 0,
    driftP99Under2s: sD.p99 < 2000,
    webhookP99Under1s: sW.p99 < 1000,
  };
  for (const [name, ok] of Object.entries(targets)) console.log(`  target ${name}: ${ok ? 'MET' : 'NOT MET'}`);
  return {
    bench: 'gitsync',
    date: new Date().toISOString(),
    host: { cores, load: { start: load0, afterSides: load1, end: load2 } },
    objects: N,
    kubectl: k,
    gitsync: { ...g, breakdown: breakdown ?? null, appliedWithoutHealthWaitsMs: breakdown ? g.appliedMs - breakdown.healthWaitMs : null },
    resync: { ...sR, samplesMs: r.durationsMs, writes: r.writes, controllerWrites: resyncWrites },
    driftRevertMs: sD,
    webhookToAppliedMs: sW,
    memory: mem,
    targets,
  };
}

let failedRun = false;
try {
  const result = await main();
  if (result) {
    const outDir = fileURLToPath(new URL('../../bench-results/', import.meta.url));
    await mkdir(outDir, { recursive: true });
    await writeFile(join(outDir, 'gitsync.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log(`\nresults written to ${join(outDir, 'gitsync.json')}`);
  }
} catch (e) {
  failedRun = true;
  console.error(`gitsync bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
} finally {
  console.log('cleaning up containers, mounts, cgroups and temp dirs...');
  await cleanupAll();
  const left = toClean.work ? await readdir(toClean.work).catch(() => []) : [];
  if (left.length) console.error(`warning: ${toClean.work} not fully removed`);
}
process.exit(failedRun ? 1 : 0);
