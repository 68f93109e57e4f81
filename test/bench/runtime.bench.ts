/**
 * Runtime benchmark (issue 3), as root with real runc + conmon:
 *  1. create+start-to-running latency of berth containers vs raw `runc run -d` of an equivalent bundle,
 *     interleaved in one run (same rootfs: the image's unpacked layer as overlay lowerdir).
 *  2. host memory per idle container with 200 running `sleep` containers.
 * Standalone: `npx tsx test/bench/runtime.bench.ts`. Writes bench-results/runtime.json.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Runtime } from '../../src/runtime/index.js';
import { busyboxTarball, mountsUnder, runtimeSkipReason } from '../integration/runtime/helpers.js';
import { cgroupMemory, sweepCgroups } from './lib/cgroups.js';
import { RawRunc, run } from './lib/raw-runc.js';
import { fmt, printTable, summary } from './lib/stats.js';

const LATENCY_N = Number(process.env.BENCH_LATENCY_N ?? 100);
const MEMORY_N = Number(process.env.BENCH_MEMORY_N ?? 200);
const WARMUP = 3;
const LATENCY_TARGET_RATIO = 1.5;
const MEMORY_TARGET_MIB = 3;
const MiB = 1024 * 1024;

const BERTH_PARENT = `berth-bench-${process.pid}`;
const BERTH_MEM_PARENT = `berth-bench-mem-${process.pid}`;
const RUNC_PARENT = `berth-bench-runc-${process.pid}`;
const IMAGE = 'bench/busybox';

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

// ---------- host probes ----------

function meminfo(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync('/proc/meminfo', 'utf8').split('\n')) {
    const m = /^(\w+):\s+(\d+) kB/.exec(line);
    if (m) out[m[1]!] = Number(m[2]) * 1024;
  }
  return out;
}

/** Median of several /proc/meminfo samples, to damp other processes' churn. */
async function sampleMeminfo(samples = 5, gapMs = 400): Promise<Record<string, number>> {
  const all: Record<string, number>[] = [];
  for (let i = 0; i < samples; i++) {
    all.push(meminfo());
    if (i < samples - 1) await delay(gapMs);
  }
  const out: Record<string, number> = {};
  for (const k of Object.keys(all[0]!)) {
    const v = all.map((s) => s[k] ?? 0).sort((a, b) => a - b);
    out[k] = v[Math.floor(v.length / 2)]!;
  }
  return out;
}

/** Rss and Pss (bytes) of one process, from /proc/PID/smaps_rollup. */
function rssPss(pid: number): { rss: number; pss: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const get = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return { rss: get('Rss'), pss: get('Pss') };
}

// ---------- cleanup (normal end, failure, SIGINT) ----------

interface Cleanup {
  work?: string;
  runtimes: Runtime[];
  raw?: RawRunc;
}
const toClean: Cleanup = { runtimes: [] };
let cleaning: Promise<void> | undefined;

async function removeAllBerth(rt: Runtime): Promise<void> {
  const all = await rt.containers.list({ all: true }).catch(() => []);
  // a few at a time: each removal mostly waits on runc and conmon
  for (let i = 0; i < all.length; i += 4) {
    await Promise.all(all.slice(i, i + 4).map((c) => rt.containers.remove(c.id, { force: true, volumes: true }).catch((e: unknown) => console.error(`remove ${c.id}: ${String(e)}`))));
  }
}

function cleanupAll(): Promise<void> {
  cleaning ??= (async () => {
    for (const rt of toClean.runtimes) await removeAllBerth(rt);
    toClean.raw?.cleanup();
    if (toClean.work) {
      // sweep anything a crash left: runc containers under the berth state root, then mounts
      const berthRuncRoot = join(toClean.work, 'berth', 'runc');
      for (const id of run('runc', ['--root', berthRuncRoot, 'list', '-q']).stdout.split('\n').filter(Boolean)) {
        run('runc', ['--root', berthRuncRoot, 'kill', id, 'KILL']);
        run('runc', ['--root', berthRuncRoot, 'delete', '--force', id]);
      }
      for (const m of mountsUnder(toClean.work).reverse()) if (run('umount', [m]).code !== 0) run('umount', ['-l', m]);
    }
    await sweepCgroups([BERTH_PARENT, BERTH_MEM_PARENT, RUNC_PARENT]);
    if (toClean.work) await rm(toClean.work, { recursive: true, force: true });
  })();
  return cleaning;
}

let interrupted = false;
let markMainDone: () => void = () => undefined;
const mainDone = new Promise<void>((r) => (markMainDone = r));
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    console.error(`\n${sig}: cleaning up containers, mounts, cgroups and temp dirs...`);
    // let the running step finish (so no container is created behind the cleanup's back), but not forever
    void Promise.race([mainDone, delay(15_000)]).then(cleanupAll).finally(() => process.exit(130));
  });
}
function checkInterrupted(): void {
  if (interrupted) throw new Error('interrupted');
}

// ---------- phases ----------

interface LatencyResult {
  n: number;
  berth: ReturnType<typeof summary> & { createP50: number; startP50: number };
  runc: ReturnType<typeof summary>;
  runcWithPrep: ReturnType<typeof summary>;
  /** conmon + `runc create` + `runc start` on a prepared bundle: the floor of a conmon-based start. */
  conmonCreateStart: ReturnType<typeof summary>;
  ratioP50: number;
  ratioP90: number;
  ratioP99: number;
  ratioP50WithPrep: number;
  target: string;
  met: boolean;
}

async function latencyPhase(rt: Runtime, raw: RawRunc): Promise<LatencyResult> {
  const berth: number[] = [];
  const creates: number[] = [];
  const starts: number[] = [];
  const runcOnly: number[] = [];
  const runcPrep: number[] = [];
  const conmonFloor: number[] = [];
  for (let i = 0; i < WARMUP + LATENCY_N; i++) {
    checkInterrupted();
    const measured = i >= WARMUP;
    // alternate which side goes first, so neither always runs on a freshly idle machine
    const order = ['berth', 'runc', 'conmon'];
    const sides = [...order.slice(i % 3), ...order.slice(0, i % 3)];
    for (const side of sides) {
      if (side === 'berth') {
        const t0 = process.hrtime.bigint();
        const c = await rt.containers.create({ image: IMAGE, command: ['sleep', '3600'] });
        const tc = ms(t0);
        const st = await rt.tasks.start(c.id);
        const total = ms(t0);
        if (st.status !== 'running') throw new Error(`berth container ${c.id} is ${st.status} after start`);
        if (measured) {
          berth.push(total);
          creates.push(tc);
          starts.push(total - tc);
        }
      } else if (side === 'conmon') {
        const id = `rawconmon-${process.pid}-${i}`;
        const bundle = await raw.prepare(id);
        const t = await raw.conmonCreateStart(id, bundle);
        if (!raw.running(id)) throw new Error(`conmon container ${id} is not running after runc start`);
        if (measured) conmonFloor.push(t);
      } else {
        const id = `rawrunc-${process.pid}-${i}`;
        const t0 = process.hrtime.bigint();
        const bundle = await raw.prepare(id);
        const tPrep = ms(t0);
        const tRun = await raw.runDetached(id, bundle);
        if (!raw.running(id)) throw new Error(`runc container ${id} is not running after runc run -d`);
        if (measured) {
          runcOnly.push(tRun);
          runcPrep.push(tPrep + tRun);
        }
      }
    }
    if (measured && (i - WARMUP + 1) % 25 === 0) console.log(`  latency: ${i - WARMUP + 1}/${LATENCY_N} pairs`);
  }
  const b = summary(berth);
  const r = summary(runcOnly);
  const rp = summary(runcPrep);
  const ratioP50 = b.p50 / r.p50;
  return {
    n: LATENCY_N,
    berth: { ...b, createP50: summary(creates).p50, startP50: summary(starts).p50 },
    runc: r,
    runcWithPrep: rp,
    conmonCreateStart: summary(conmonFloor),
    ratioP50,
    ratioP90: b.p90 / r.p90,
    ratioP99: b.p99 / r.p99,
    ratioP50WithPrep: b.p50 / rp.p50,
    target: `berth p50 <= ${LATENCY_TARGET_RATIO}x runc p50`,
    met: ratioP50 <= LATENCY_TARGET_RATIO,
  };
}

interface MemoryResult {
  n: number;
  memAvailableDeltaPerContainerMiB: number;
  memAvailableRecoveredPerContainerMiB: number;
  /** during - before, per container, for the /proc/meminfo fields that matter here. */
  meminfoDeltaPerContainerMiB: Record<string, number>;
  /** Whether removing the containers gave back (within 25%) what starting them took. */
  memAvailableTrusted: boolean;
  kernelDeltaPerContainerMiB: number;
  kernelPlusPssPerContainerMiB: number;
  pssPerContainerMiB: { conmon: number; sleep: number; total: number };
  rssPerContainerMiB: { conmon: number; sleep: number; total: number };
  containerCgroupPerContainerMiB: number | null;
  accountedPerContainerMiB: number | null;
  targetMeasure: string;
  targetValueMiB: number;
  target: string;
  met: boolean;
}

/** Kernel memory that is neither page cache nor reclaimable: namespaces, mounts, cgroups (incl. per-cpu memcg stats), tasks. */
const KERNEL_KEYS = ['SUnreclaim', 'KernelStack', 'PageTables', 'Percpu'];
const MEMINFO_KEYS = ['MemFree', 'MemAvailable', 'Cached', 'Shmem', 'AnonPages', 'SReclaimable', ...KERNEL_KEYS];

async function memoryPhase(rt: Runtime): Promise<MemoryResult> {
  const n = MEMORY_N;
  await delay(2000);
  const before = await sampleMeminfo();
  const cgBefore = cgroupMemory(BERTH_MEM_PARENT) ?? 0;
  const states: Array<{ pid: number; conmonPid: number }> = [];
  for (let i = 0; i < n; i++) {
    checkInterrupted();
    const c = await rt.containers.create({ image: IMAGE, command: ['sleep', '3600'] });
    const st = await rt.tasks.start(c.id);
    if (st.status !== 'running') throw new Error(`berth container ${c.id} is ${st.status} after start`);
    states.push({ pid: st.pid, conmonPid: st.conmonPid });
    if ((i + 1) % 50 === 0) console.log(`  memory: ${i + 1}/${n} containers running`);
  }
  await delay(3000);
  const during = await sampleMeminfo();
  const cgDuring = cgroupMemory(BERTH_MEM_PARENT);
  let conmonPss = 0, conmonRss = 0, sleepPss = 0, sleepRss = 0;
  for (const s of states) {
    const a = rssPss(s.conmonPid);
    const b = rssPss(s.pid);
    conmonPss += a.pss; conmonRss += a.rss; sleepPss += b.pss; sleepRss += b.rss;
  }
  console.log('  memory: removing the containers to check the host gets the memory back');
  await removeAllBerth(rt);
  await delay(2000);
  const after = await sampleMeminfo();
  const per = (bytes: number): number => bytes / n / MiB;
  const kernel = (m: Record<string, number>): number => KERNEL_KEYS.reduce((s, k) => s + (m[k] ?? 0), 0);
  const memAvail = per((before.MemAvailable ?? 0) - (during.MemAvailable ?? 0));
  const recovered = per((after.MemAvailable ?? 0) - (during.MemAvailable ?? 0));
  const kernelDelta = per(kernel(during) - kernel(before));
  // other processes on the host move MemAvailable too: trust the delta only if removal gave (about) the same back
  const memAvailTrusted = memAvail > 0 && Math.abs(memAvail - recovered) <= 0.25 * memAvail;
  const kernelPlusPss = kernelDelta + per(conmonPss + sleepPss);
  const cg = cgDuring === undefined ? null : per(cgDuring - cgBefore);
  const conmonPssPer = per(conmonPss);
  return {
    n,
    memAvailableDeltaPerContainerMiB: memAvail,
    memAvailableRecoveredPerContainerMiB: recovered,
    meminfoDeltaPerContainerMiB: Object.fromEntries(MEMINFO_KEYS.map((k) => [k, per((during[k] ?? 0) - (before[k] ?? 0))])),
    memAvailableTrusted: memAvailTrusted,
    kernelDeltaPerContainerMiB: kernelDelta,
    kernelPlusPssPerContainerMiB: kernelPlusPss,
    pssPerContainerMiB: { conmon: conmonPssPer, sleep: per(sleepPss), total: per(conmonPss + sleepPss) },
    rssPerContainerMiB: { conmon: per(conmonRss), sleep: per(sleepRss), total: per(conmonRss + sleepRss) },
    containerCgroupPerContainerMiB: cg,
    accountedPerContainerMiB: cg === null ? null : cg + conmonPssPer,
    targetMeasure: memAvailTrusted ? 'MemAvailable delta' : 'kernel delta + PSS (MemAvailable disturbed by other processes)',
    targetValueMiB: memAvailTrusted ? memAvail : kernelPlusPss,
    target: `< ${MEMORY_TARGET_MIB} MiB per idle container`,
    met: (memAvailTrusted ? memAvail : kernelPlusPss) < MEMORY_TARGET_MIB,
  };
}

// ---------- main ----------

async function main(): Promise<void> {
  const skip = runtimeSkipReason();
  if (skip) {
    console.log(`runtime bench skipped: ${skip}`);
    return;
  }
  const work = await mkdtemp(join(tmpdir(), 'berth-rtbench-'));
  toClean.work = work;
  const rt = new Runtime({ root: join(work, 'berth'), cgroupParent: BERTH_PARENT });
  toClean.runtimes.push(rt);
  const imageId = await rt.importImage(await busyboxTarball(work), { ref: IMAGE });
  const diffIDs = (await rt.images.inspect(imageId)).RootFS.Layers;
  if (diffIDs.length !== 1) throw new Error(`expected a one-layer image, got ${diffIDs.length} layers`);
  const raw = new RawRunc(work, rt.snapshots.layerDir(diffIDs[0]!), RUNC_PARENT);
  toClean.raw = raw;

  console.log(`runtime bench: ${LATENCY_N} containers each side (after ${WARMUP} warm-ups), then ${MEMORY_N} for memory; ${spawnSync('nproc').stdout.toString().trim()} cores`);
  const latency = await latencyPhase(rt, raw);
  console.log('  latency: removing latency containers');
  await removeAllBerth(rt);
  raw.cleanup();
  for (const m of mountsUnder(join(work, 'bundles')).reverse()) run('umount', [m]);

  const memRt = new Runtime({ root: join(work, 'berth'), cgroupParent: BERTH_MEM_PARENT });
  toClean.runtimes.push(memRt);
  const memory = await memoryPhase(memRt);

  console.log('\nCreate+start-to-running latency (ms), busybox `sleep 3600`, one after another');
  printTable(['', 'n', 'p50', 'p90', 'p99', 'max'], [
    ['berth create+start', latency.berth.n, fmt(latency.berth.p50), fmt(latency.berth.p90), fmt(latency.berth.p99), fmt(latency.berth.max)],
    ['runc run -d', latency.runc.n, fmt(latency.runc.p50), fmt(latency.runc.p90), fmt(latency.runc.p99), fmt(latency.runc.max)],
    ['runc run -d + overlay/config', latency.runcWithPrep.n, fmt(latency.runcWithPrep.p50), fmt(latency.runcWithPrep.p90), fmt(latency.runcWithPrep.p99), fmt(latency.runcWithPrep.max)],
    ['conmon(runc create) + runc start', latency.conmonCreateStart.n, fmt(latency.conmonCreateStart.p50), fmt(latency.conmonCreateStart.p90), fmt(latency.conmonCreateStart.p99), fmt(latency.conmonCreateStart.max)],
    ['ratio berth/runc', '', `${fmt(latency.ratioP50, 2)}x`, `${fmt(latency.ratioP90, 2)}x`, `${fmt(latency.ratioP99, 2)}x`, ''],
  ]);
  console.log(`  berth p50 split: create ${fmt(latency.berth.createP50)} ms, start ${fmt(latency.berth.startP50)} ms; ratio vs runc incl. overlay+config: ${fmt(latency.ratioP50WithPrep, 2)}x at p50`);
  console.log(`  target ${latency.target}: ${latency.met ? 'MET' : 'NOT MET'} (${fmt(latency.ratioP50, 2)}x)`);

  console.log(`\nMemory per idle container (MiB), ${memory.n} running berth containers (conmon + sleep)`);
  printTable(['measure', 'MiB/container'], [
    ['MemAvailable delta (host, incl. kernel)', fmt(memory.memAvailableDeltaPerContainerMiB, 2)],
    ['  MemAvailable recovered after removal', fmt(memory.memAvailableRecoveredPerContainerMiB, 2)],
    ['  kernel part (SUnreclaim+KernelStack+PageTables+Percpu)', fmt(memory.kernelDeltaPerContainerMiB, 2)],
    ['kernel part + PSS conmon + sleep', fmt(memory.kernelPlusPssPerContainerMiB, 2)],
    ['PSS conmon + sleep', fmt(memory.pssPerContainerMiB.total, 2)],
    ['  PSS conmon', fmt(memory.pssPerContainerMiB.conmon, 2)],
    ['  PSS sleep', fmt(memory.pssPerContainerMiB.sleep, 2)],
    ['RSS conmon + sleep (shared pages counted per process)', fmt(memory.rssPerContainerMiB.total, 2)],
    ['container cgroup charge', memory.containerCgroupPerContainerMiB === null ? '-' : fmt(memory.containerCgroupPerContainerMiB, 2)],
    ['container cgroup charge + conmon PSS', memory.accountedPerContainerMiB === null ? '-' : fmt(memory.accountedPerContainerMiB, 2)],
  ]);
  console.log(`  /proc/meminfo deltas per container (MiB): ${Object.entries(memory.meminfoDeltaPerContainerMiB).map(([k, v]) => `${k} ${fmt(v, 2)}`).join(', ')}`);
  if (!memory.memAvailableTrusted) console.log('  MemAvailable moved differently on start and on removal: other processes disturbed it');
  console.log(`  target ${memory.target} on ${memory.targetMeasure}: ${memory.met ? 'MET' : 'NOT MET'} (${fmt(memory.targetValueMiB, 2)} MiB)`);

  const outDir = fileURLToPath(new URL('../../bench-results/', import.meta.url));
  await mkdir(outDir, { recursive: true });
  const result = {
    bench: 'runtime',
    date: new Date().toISOString(),
    host: { cores: Number(spawnSync('nproc').stdout.toString().trim()), kernel: run('uname', ['-r']).stdout.trim(), runc: run('runc', ['--version']).stdout.split('\n')[0], conmon: run('conmon', ['--version']).stdout.split('\n')[0] },
    latencyMs: latency,
    memory,
  };
  await writeFile(join(outDir, 'runtime.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nresults written to ${join(outDir, 'runtime.json')}`);
}

let failedRun = false;
try {
  await main();
} catch (e) {
  failedRun = true;
  console.error(`runtime bench failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
} finally {
  markMainDone();
  await cleanupAll();
  const left = toClean.work ? mountsUnder(toClean.work) : [];
  if (left.length) console.error(`warning: mounts left behind: ${left.join(', ')}`);
}
process.exit(failedRun ? 1 : 0);
