/**
 * Agent benchmark (issue 4), as root with real runc + conmon: apply-to-Running of Container objects
 * on a real `berth server` process (API, scheduler, agent), as seen through a watch; 100 containers
 * one by one, then a burst of 100 applied at once. In the same run, interleaved: raw `runc run -d`
 * on a prepared overlay bundle, and `podman run -d --runtime runc` (Debian podman, installed on demand).
 * Standalone: `npx tsx test/bench/agent.bench.ts` (after `npm run build`). Writes bench-results/agent.json.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Runtime } from '../../src/runtime/index.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { WatchReader } from '../helpers/watch-stream.js';
import { mountsUnder, runtimeSkipReason } from '../integration/runtime/helpers.js';
import { sweepCgroups } from './lib/cgroups.js';
import { machineBusyMs } from './lib/machine-cpu.js';
import { ensurePodman, PODMAN_ULIMITS, podmanGlobalArgs } from './lib/podman.js';
import { RawRunc, run } from './lib/raw-runc.js';
import { fmt, printTable, summary } from './lib/stats.js';

const N = Number(process.env.BENCH_AGENT_N ?? 100);
const BURST = Number(process.env.BENCH_AGENT_BURST ?? 100);
const WARMUP = 3;
const TARGET_P50_MS = 150;
const TARGET_BURST_MS = 5000;
const BUSYBOX_TAR = '/usr/local/share/berth/busybox-rootfs.tar';
const NS = 'default';
const CONTAINERS = `/apis/berth.dev/v1alpha1/namespaces/${NS}/containers`;

const BERTH_PARENT = `berth-bench-agent-${process.pid}`;
const RUNC_PARENT = `berth-bench-agent-runc-${process.pid}`;
const PODMAN_PARENT = `berth-bench-agent-podman-${process.pid}`;

const now = (): number => performance.now();
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Time from launching a program to its exit (podman run -d returns once the container runs). */
function timedRun(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(now() - t0) : reject(new Error(`${cmd} ${args.join(' ')} failed (${code}): ${err.trim()}`))));
  });
}

/** Watches Containers and resolves, per name, the moment its status first says Running. */
class RunningWatch {
  private readonly seen = new Map<string, number>();
  private readonly waiters = new Map<string, (t: number) => void>();
  private reader?: WatchReader;

  async start(server: ServerProcess): Promise<void> {
    const res = await server.api(`${CONTAINERS}?watch=true&allowWatchBookmarks=false`);
    if (!res.ok) throw new Error(`watch failed: ${res.status} ${await res.text()}`);
    this.reader = new WatchReader(res);
    void (async () => {
      for (;;) {
        const e = await this.reader!.next().catch(() => undefined);
        if (!e) return;
        const name = e.object.metadata?.name as string;
        if (e.object.status?.phase !== 'Running' || this.seen.has(name)) continue;
        const t = now();
        this.seen.set(name, t);
        this.waiters.get(name)?.(t);
      }
    })();
  }

  running(name: string, timeoutMs = 60_000): Promise<number> {
    const t = this.seen.get(name);
    if (t !== undefined) return Promise.resolve(t);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`container ${name} was not Running after ${timeoutMs} ms`)), timeoutMs);
      this.waiters.set(name, (at) => {
        clearTimeout(timer);
        resolve(at);
      });
    });
  }

  async stop(): Promise<void> {
    await this.reader?.cancel();
  }
}

/** Server-side apply of a Container: one request, as `kubectl apply --server-side` makes. */
async function apply(server: ServerProcess, name: string): Promise<void> {
  const body = JSON.stringify({
    apiVersion: 'berth.dev/v1alpha1',
    kind: 'Container',
    metadata: { name, namespace: NS },
    // sleep as PID 1 ignores SIGTERM: without this each deletion would wait out the 10 s grace period
    spec: { image: 'busybox:latest', command: ['sleep', '3600'], stopGracePeriodSeconds: 0 },
  });
  const res = await server.api(`${CONTAINERS}/${name}?fieldManager=bench`, { method: 'PATCH', headers: { 'content-type': 'application/apply-patch+yaml' }, body });
  if (!res.ok) throw new Error(`apply ${name}: ${res.status} ${await res.text()}`);
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = now() + timeoutMs;
  while (!(await check())) {
    if (now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(100);
  }
}

async function jsonOf(server: ServerProcess, path: string): Promise<any> {
  const res = await server.api(path);
  return res.ok ? res.json() : undefined;
}

/** apiserver_request_total of the write verbs, by "VERB resource[/subresource]". */
async function writeCounts(server: ServerProcess): Promise<Map<string, number>> {
  const text = await (await server.api('/metrics')).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^apiserver_request_total\{verb="(POST|PUT|PATCH|DELETE)",resource="([^"]*)",subresource="([^"]*)",code="\d+"\} (\d+)$/gm)) {
    const key = `${m[1]} ${m[2]}${m[3] ? `/${m[3]}` : ''}`;
    out.set(key, (out.get(key) ?? 0) + Number(m[4]));
  }
  return out;
}

/** Writes per container between two counts, by verb and resource. */
function writesPer(before: Map<string, number>, after: Map<string, number>, containers: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d > 0) out[k] = Math.round((d / containers) * 100) / 100;
  }
  return out;
}

// ---------- cleanup ----------

interface Cleanup {
  work?: string;
  server?: ServerProcess;
  raw?: RawRunc;
  podman?: string[];
}
const toClean: Cleanup = {};

async function cleanupAll(): Promise<void> {
  const { work, server, raw, podman } = toClean;
  if (server) {
    // the agent removes what it runs once the objects go; whatever is left is swept below
    await server.api(CONTAINERS, { method: 'DELETE' }).catch(() => undefined);
    await waitFor('containers to be deleted', async () => ((await jsonOf(server, CONTAINERS))?.items?.length ?? 0) === 0, 120_000).catch((e: unknown) => console.error(String(e)));
    await server.kill('SIGTERM');
  }
  if (work) {
    const rt = new Runtime({ root: join(work, 'data', 'runtime'), cgroupParent: BERTH_PARENT });
    for (const c of await rt.containers.records.all().catch(() => [])) await rt.containers.remove(c.id, { force: true, volumes: true }).catch(() => undefined);
    // the node's default network goes too (its bridge, rules and the host's ip_forward as found)
    await rt.networks.prune().catch(() => undefined);
    await rt.close();
  }
  raw?.cleanup();
  if (podman) run('podman', [...podman, 'rm', '-af', '-t', '0']);
  // podman's store keeps its overlay directory bind-mounted on itself, sometimes twice
  for (let pass = 0; work && pass < 5 && mountsUnder(work).length > 0; pass++) {
    for (const m of mountsUnder(work).reverse()) if (run('umount', [m]).code !== 0) run('umount', ['-l', m]);
  }
  await sweepCgroups([BERTH_PARENT, RUNC_PARENT, PODMAN_PARENT]);
  if (work) await rm(work, { recursive: true, force: true });
}

// ---------- phases ----------

interface Sides {
  server: ServerProcess;
  watch: RunningWatch;
  raw: RawRunc;
  /** podman global args, or undefined when podman is unavailable. */
  podman: string[] | undefined;
}

function podmanRunArgs(podman: string[], name: string): string[] {
  return [...podman, 'run', '-d', '--name', name, '--network', 'none', '--cgroup-parent', `/${PODMAN_PARENT}`, ...PODMAN_ULIMITS, 'bench/busybox', 'sleep', '3600'];
}

async function oneByOne(s: Sides): Promise<{ berth: number[]; runc: number[]; podman: number[] }> {
  const out = { berth: [] as number[], runc: [] as number[], podman: [] as number[] };
  const sides = ['berth', 'runc', ...(s.podman ? ['podman'] : [])];
  for (let i = 0; i < WARMUP + N; i++) {
    const measured = i >= WARMUP;
    // rotate which side goes first, so none always runs on a freshly idle machine
    for (const side of [...sides.slice(i % sides.length), ...sides.slice(0, i % sides.length)]) {
      if (side === 'berth') {
        const name = `one-${i}`;
        const t0 = now();
        await apply(s.server, name);
        const t1 = await s.watch.running(name);
        if (measured) out.berth.push(t1 - t0);
      } else if (side === 'runc') {
        const id = `agentbench-runc-${process.pid}-${i}`;
        const bundle = await s.raw.prepare(id);
        const t = await s.raw.runDetached(id, bundle);
        if (measured) out.runc.push(t);
      } else {
        const t = await timedRun('podman', podmanRunArgs(s.podman!, `one-${i}`));
        if (measured) out.podman.push(t);
      }
    }
    if (measured && (i - WARMUP + 1) % 25 === 0) console.log(`  one by one: ${i - WARMUP + 1}/${N}`);
  }
  return out;
}

interface BurstResult {
  totalMs: number;
  perContainer: number[];
  /** Busy CPU time of the whole machine during the burst (every process): over the cores, the least wall time it can take here. */
  cpuMs: number;
}

async function burstBerth(s: Sides): Promise<BurstResult> {
  const names = Array.from({ length: BURST }, (_, i) => `burst-${i}`);
  const cpu0 = machineBusyMs();
  const t0 = now();
  const running = names.map((n) => s.watch.running(n, 120_000));
  await Promise.all(names.map((n) => apply(s.server, n)));
  const at = await Promise.all(running);
  return { totalMs: Math.max(...at) - t0, perContainer: at.map((t) => t - t0), cpuMs: machineBusyMs() - cpu0 };
}

async function burstRunc(s: Sides): Promise<BurstResult> {
  const ids = Array.from({ length: BURST }, (_, i) => `agentbench-runc-burst-${process.pid}-${i}`);
  const bundles: string[] = [];
  for (const id of ids) bundles.push(await s.raw.prepare(id));
  const cpu0 = machineBusyMs();
  const t0 = now();
  const done = await Promise.all(ids.map((id, i) => s.raw.runDetached(id, bundles[i]!).then(() => now() - t0)));
  return { totalMs: Math.max(...done), perContainer: done, cpuMs: machineBusyMs() - cpu0 };
}

async function burstPodman(podman: string[]): Promise<BurstResult> {
  const cpu0 = machineBusyMs();
  const t0 = now();
  const done = await Promise.all(Array.from({ length: BURST }, (_, i) => timedRun('podman', podmanRunArgs(podman, `burst-${i}`)).then(() => now() - t0)));
  return { totalMs: Math.max(...done), perContainer: done, cpuMs: machineBusyMs() - cpu0 };
}

// ---------- main ----------

async function main(): Promise<Record<string, unknown> | undefined> {
  const skip = runtimeSkipReason() ?? (existsSync(BUSYBOX_TAR) ? undefined : `${BUSYBOX_TAR} is missing (run scripts/setup as root)`);
  if (skip) {
    console.log(`agent bench skipped: ${skip}`);
    return undefined;
  }
  if (!existsSync(fileURLToPath(new URL('../../dist/cmd/main.js', import.meta.url)))) throw new Error('dist/ is missing: run `npm run build` first');
  const podmanMissing = ensurePodman();
  const work = await mkdtemp(join(tmpdir(), 'berth-bench-agent-'));
  toClean.work = work;

  // raw runc gets the same busybox rootfs, unpacked once by a runtime of its own, as its overlay lowerdir
  const baseRt = new Runtime({ root: join(work, 'baseline') });
  const imageId = await baseRt.importImage(BUSYBOX_TAR, { ref: 'bench/busybox' });
  const raw = new RawRunc(work, baseRt.snapshots.layerDir((await baseRt.images.inspect(imageId)).RootFS.Layers[0]!), RUNC_PARENT);
  toClean.raw = raw;

  let podman: string[] | undefined;
  if (podmanMissing === undefined) {
    podman = podmanGlobalArgs(join(work, 'podman-root'), join(work, 'podman-run'));
    const imp = spawnSync('podman', [...podman, 'import', BUSYBOX_TAR, 'bench/busybox'], { encoding: 'utf8' });
    if (imp.status !== 0) {
      console.log(`podman import failed, podman figures left out: ${imp.stderr}`);
      podman = undefined;
    } else toClean.podman = podman;
  } else console.log(`podman figures left out: ${podmanMissing}`);

  const server = await startServerProcess(join(work, 'data'), ['--no-registry', '--cgroup-parent', BERTH_PARENT, '--node-name', 'bench-node']);
  toClean.server = server;
  const image = {
    apiVersion: 'berth.dev/v1alpha1',
    kind: 'Image',
    metadata: { name: 'busybox', namespace: NS },
    spec: { ref: 'busybox:latest', source: { import: { path: BUSYBOX_TAR, format: 'rootfs' } } },
  };
  const res = await server.api(`/apis/berth.dev/v1alpha1/namespaces/${NS}/images`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(image) });
  if (!res.ok) throw new Error(`creating the Image: ${res.status} ${await res.text()}`);
  await waitFor('the busybox Image to be Ready', async () => (await jsonOf(server, `/apis/berth.dev/v1alpha1/namespaces/${NS}/images/busybox`))?.status?.phase === 'Ready');
  const watch = new RunningWatch();
  await watch.start(server);
  const sides: Sides = { server, watch, raw, podman };

  const cores = spawnSync('nproc').stdout.toString().trim();
  console.log(`agent bench: ${N} containers one by one per side (after ${WARMUP} warm-ups), then bursts of ${BURST}; ${cores} cores`);
  const writes0 = await writeCounts(server);
  const one = await oneByOne(sides);
  const writes = writesPer(writes0, await writeCounts(server), WARMUP + N);

  console.log('  clearing the one-by-one containers before the bursts');
  await server.api(CONTAINERS, { method: 'DELETE' });
  raw.cleanup();
  if (podman) run('podman', [...podman, 'rm', '-af', '-t', '0']);
  for (const m of mountsUnder(join(work, 'bundles')).reverse()) run('umount', [m]);
  await waitFor('the one-by-one containers to be deleted', async () => ((await jsonOf(server, CONTAINERS))?.items?.length ?? 0) === 0, 300_000);
  await delay(2000);

  console.log(`  burst: ${BURST} Containers applied at once`);
  const bBerth = await burstBerth(sides);
  await delay(2000);
  console.log(`  burst: ${BURST} runc run -d at once`);
  const bRunc = await burstRunc(sides);
  let bPodman: BurstResult | undefined;
  if (podman) {
    await delay(2000);
    console.log(`  burst: ${BURST} podman run -d at once`);
    bPodman = await burstPodman(podman);
  }
  await watch.stop();

  const sBerth = summary(one.berth);
  const sRunc = summary(one.runc);
  const sPodman = podman ? summary(one.podman) : undefined;
  console.log(`\nApply-to-Running (ms), busybox \`sleep 3600\`, ${N} one by one`);
  const row = (label: string, s: ReturnType<typeof summary>) => [label, s.n, fmt(s.p50), fmt(s.p90), fmt(s.p99), fmt(s.max)];
  printTable(['', 'n', 'p50', 'p90', 'p99', 'max'], [
    row('berth apply -> watch Running', sBerth),
    row('runc run -d (prepared bundle)', sRunc),
    ...(sPodman ? [row('podman run -d --runtime runc', sPodman)] : []),
    ['ratio berth/runc', '', `${fmt(sBerth.p50 / sRunc.p50, 2)}x`, `${fmt(sBerth.p90 / sRunc.p90, 2)}x`, `${fmt(sBerth.p99 / sRunc.p99, 2)}x`, ''],
    ...(sPodman ? [['ratio berth/podman', '', `${fmt(sBerth.p50 / sPodman.p50, 2)}x`, `${fmt(sBerth.p90 / sPodman.p90, 2)}x`, `${fmt(sBerth.p99 / sPodman.p99, 2)}x`, '']] : []),
  ]);
  console.log(`\nBurst of ${BURST} applied at once (ms): all Running, and per container from the first apply`);
  const burstRow = (label: string, b: BurstResult) => {
    const s = summary(b.perContainer);
    const cpu = b.cpuMs;
    return [label, fmt(b.totalMs), fmt(s.p50), fmt(s.p99), fmt(cpu / BURST), fmt(cpu / Number(cores))];
  };
  // the last column is the wall time the burst needs at the least on this machine, all cores busy all along
  printTable(['', 'all running', 'p50', 'p99', 'cpu ms/ctr', 'cpu/cores'], [
    burstRow('berth apply -> watch Running', bBerth),
    burstRow('runc run -d', bRunc),
    ...(bPodman ? [burstRow('podman run -d', bPodman)] : []),
  ]);
  const containerWrites = Object.entries(writes).filter(([k]) => / containers(\/|$)/.test(k)).reduce((n, [, v]) => n + v, 0);
  console.log(`\nAPI writes per container from apply to Running (apiserver_request_total, ${WARMUP + N} containers one by one):`);
  printTable(['request', 'per container'], Object.entries(writes).sort().map(([k, v]) => [k, fmt(v, 2)]));
  console.log(`  writes to the Container (apply, binding, status...): ${fmt(containerWrites, 2)} per container (target: at most 3)`);
  const targets = {
    containerWritesAtMost3: containerWrites <= 3,
    p50Under150ms: sBerth.p50 < TARGET_P50_MS,
    burstUnder5s: bBerth.totalMs < TARGET_BURST_MS,
    fasterThanPodmanAtP50: sPodman ? sBerth.p50 < sPodman.p50 : null,
  };
  console.log(`  target p50 < ${TARGET_P50_MS} ms one by one: ${targets.p50Under150ms ? 'MET' : 'NOT MET'} (${fmt(sBerth.p50)} ms)`);
  console.log(`  target burst Running within ${TARGET_BURST_MS} ms: ${targets.burstUnder5s ? 'MET' : 'NOT MET'} (${fmt(bBerth.totalMs)} ms)`);
  if (sPodman) console.log(`  target faster than podman at p50: ${targets.fasterThanPodmanAtP50 ? 'MET' : 'NOT MET'} (${fmt(sBerth.p50)} vs ${fmt(sPodman.p50)} ms)`);
  return {
    bench: 'agent',
    date: new Date().toISOString(),
    host: { cores: Number(cores), runc: run('runc', ['--version']).stdout.split('\n')[0], podman: podman ? run('podman', ['--version']).stdout.trim() : null },
    oneByOneMs: { berth: sBerth, runc: sRunc, podman: sPodman ?? null },
    burstMs: {
      berth: { total: bBerth.totalMs, machineCpuMs: bBerth.cpuMs, ...summary(bBerth.perContainer) },
      runc: { total: bRunc.totalMs, machineCpuMs: bRunc.cpuMs, ...summary(bRunc.perContainer) },
      podman: bPodman ? { total: bPodman.totalMs, machineCpuMs: bPodman.cpuMs, ...summary(bPodman.perContainer) } : null,
    },
    apiWritesPerContainer: writes,
    targets,
  };
}

let failedRun = false;
try {
  const result = await main();
  if (result) {
    const outDir = fileURLToPath(new URL('../../bench-results/', import.meta.url));
    await mkdir(outDir, { recursive: true });
    await writeFile(join(outDir, 'agent.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log(`\nresults written to ${join(outDir, 'agent.json')}`);
  }
} catch (e) {
  failedRun = true;
  console.error(`agent bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
} finally {
  console.log('cleaning up containers, mounts, cgroups and temp dirs...');
  await cleanupAll();
  const left = toClean.work ? await readdir(toClean.work).catch(() => []) : [];
  if (left.length) console.error(`warning: ${toClean.work} not fully removed`);
}
process.exit(failedRun ? 1 : 0);
