/**
 * Network benchmark (issue 15), as root with real runc, conmon and CNI plugins: what bridge
 * networking adds to a container's start. Side by side in one run, interleaved (the side that goes
 * first rotates): Berth apply-to-Running (seen through a watch) with network none and with the
 * default bridge network, and `podman run -d --runtime runc` with --network none and on a podman
 * bridge network of its own (netavark, its default configuration on a private subnet). The added
 * cost per container is bridge minus none, at p50 and p99, for each. Target: Berth's bridge adds
 * under 50 ms at p50, and less than podman's bridge adds.
 * Both bridges are on private /24s of 10.250.0.0/16 that nothing is sent to; the containers run
 * `sleep`; the embedded DNS forwards nothing. Everything made here is removed after, and the host's
 * ip_forward, iptables and nftables state is compared with how it was found.
 * Standalone: `npx tsx test/bench/network.bench.ts` (after `npm run build`). Writes bench-results/network.json.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Runtime } from '../../src/runtime/index.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { listTables, splitRule, tableIsEmpty } from '../../src/runtime/network/host.js';
import { hostNetState, type HostNetState } from '../helpers/test-network.js';
import { WatchReader } from '../helpers/watch-stream.js';
import { mountsUnder, runtimeSkipReason } from '../integration/runtime/helpers.js';
import { sweepCgroups } from './lib/cgroups.js';
import { machineBusyMs } from './lib/machine-cpu.js';
import { ensurePodman, PODMAN_ULIMITS, podmanGlobalArgs } from './lib/podman.js';
import { run } from './lib/raw-runc.js';
import { fmt, printTable, summary } from './lib/stats.js';

const N = Number(process.env.BENCH_NETWORK_N ?? 60);
const WARMUP = 3;
/** Containers are deleted every this many rounds, so that the machine does not fill up along the run. */
const BATCH = 15;
const TARGET_ADDED_P50_MS = 50;
const BUSYBOX_TAR = '/usr/local/share/berth/busybox-rootfs.tar';
const NS = 'default';
const CONTAINERS = `/apis/berth.dev/v1alpha1/namespaces/${NS}/containers`;
const BERTH_PARENT = `berth-bench-net-${process.pid}`;
const PODMAN_PARENT = `berth-bench-net-podman-${process.pid}`;
const PODMAN_NET = `berthbench${process.pid}`;
const BRIDGE = `bb${process.pid.toString(16).slice(-6)}`;

type Side = 'berth-none' | 'berth-bridge' | 'podman-none' | 'podman-bridge';

const now = (): number => performance.now();
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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

async function apply(server: ServerProcess, name: string, network: 'none' | 'bridge'): Promise<void> {
  const body = JSON.stringify({
    apiVersion: 'berth.dev/v1alpha1',
    kind: 'Container',
    metadata: { name, namespace: NS },
    spec: { image: 'busybox:latest', command: ['sleep', '3600'], stopGracePeriodSeconds: 0, network },
  });
  const res = await server.api(`${CONTAINERS}/${name}?fieldManager=bench`, { method: 'PATCH', headers: { 'content-type': 'application/apply-patch+yaml' }, body });
  if (!res.ok) throw new Error(`apply ${name}: ${res.status} ${await res.text()}`);
}

async function jsonOf(server: ServerProcess, path: string): Promise<any> {
  const res = await server.api(path);
  return res.ok ? res.json() : undefined;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = now() + timeoutMs;
  while (!(await check())) {
    if (now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(100);
  }
}

// ---------- cleanup ----------

/**
 * netavark, like portmap, leaves its shared chains after its last network: unless they were there
 * before the bench, they go (the jumps to them first), and so do the tables that were not there
 * before and are left empty.
 */
async function removePodmanRules(before: HostNetState): Promise<void> {
  if (before.iptables.includes('NETAVARK')) return;
  for (const table of ['filter', 'nat']) {
    const rules = run('iptables', ['-t', table, '-S']).stdout.split('\n');
    for (const l of rules) if (/^-A (INPUT|FORWARD|OUTPUT|PREROUTING|POSTROUTING) .*-j NETAVARK/.test(l)) run('iptables', ['-t', table, ...splitRule(l.replace(/^-A/, '-D'))]);
    const chains = rules.filter((l) => /^-N NETAVARK/.test(l)).map((l) => l.slice(3));
    for (const c of chains) run('iptables', ['-t', table, '-F', c]);
    for (const c of chains) run('iptables', ['-t', table, '-X', c]);
  }
  for (const t of await listTables()) {
    if (!before.nft.includes(`table ${t} {`) && (t === 'ip nat' || t === 'ip filter') && (await tableIsEmpty(t))) run('nft', ['delete', 'table', ...t.split(' ')]);
  }
}

const toClean: { work?: string; server?: ServerProcess; podman?: string[] } = {};
let hostBefore: HostNetState | undefined;

async function deleteBerthContainers(server: ServerProcess): Promise<void> {
  await server.api(CONTAINERS, { method: 'DELETE' });
  await waitFor('containers to be deleted', async () => ((await jsonOf(server, CONTAINERS))?.items?.length ?? 0) === 0, 300_000);
}

async function cleanupAll(): Promise<void> {
  const { work, server, podman } = toClean;
  if (server) {
    await deleteBerthContainers(server).catch((e: unknown) => console.error(String(e)));
    await server.kill('SIGTERM');
  }
  if (work) {
    const rt = new Runtime({ root: join(work, 'data', 'runtime'), cgroupParent: BERTH_PARENT });
    for (const c of await rt.containers.records.all().catch(() => [])) await rt.containers.remove(c.id, { force: true, volumes: true }).catch(() => undefined);
    await rt.sweepNetworks().catch(() => undefined);
    await rt.networks.prune().catch((e: unknown) => console.error(`pruning the bench's networks: ${String(e)}`));
    await rt.close();
  }
  if (podman) {
    run('podman', [...podman, 'rm', '-af', '-t', '0']);
    run('podman', [...podman, 'network', 'rm', '-f', PODMAN_NET]);
    if (hostBefore) await removePodmanRules(hostBefore);
  }
  for (let pass = 0; work && pass < 5 && mountsUnder(work).length > 0; pass++) {
    for (const m of mountsUnder(work).reverse()) if (run('umount', [m]).code !== 0) run('umount', ['-l', m]);
  }
  await sweepCgroups([BERTH_PARENT, PODMAN_PARENT]);
  if (work) await rm(work, { recursive: true, force: true });
}

// ---------- main ----------

function podmanRunArgs(podman: string[], name: string, network: string): string[] {
  return [...podman, 'run', '-d', '--name', name, '--network', network, '--cgroup-parent', `/${PODMAN_PARENT}`, ...PODMAN_ULIMITS, 'bench/busybox', 'sleep', '3600'];
}

async function main(): Promise<Record<string, unknown> | undefined> {
  const skip = runtimeSkipReason() ?? (existsSync(BUSYBOX_TAR) ? undefined : `${BUSYBOX_TAR} is missing (run scripts/setup as root)`) ?? (existsSync('/usr/lib/cni/bridge') ? undefined : 'the CNI plugins are missing (containernetworking-plugins)');
  if (skip) {
    console.log(`network bench skipped: ${skip}`);
    return undefined;
  }
  if (!existsSync(fileURLToPath(new URL('../../dist/cmd/main.js', import.meta.url)))) throw new Error('dist/ is missing: run `npm run build` first');
  hostBefore = hostNetState();
  const podmanMissing = ensurePodman();
  const work = await mkdtemp(join(tmpdir(), 'berth-bench-net-'));
  toClean.work = work;

  let podman: string[] | undefined;
  let podmanSubnet: string | undefined;
  if (podmanMissing === undefined) {
    podman = [...podmanGlobalArgs(join(work, 'podman-root'), join(work, 'podman-run')), '--network-config-dir', join(work, 'podman-networks')];
    await mkdir(join(work, 'podman-networks'), { recursive: true });
    const imp = spawnSync('podman', [...podman, 'import', BUSYBOX_TAR, 'bench/busybox'], { encoding: 'utf8' });
    if (imp.status !== 0) {
      console.log(`podman import failed, podman figures left out: ${imp.stderr}`);
      podman = undefined;
    } else toClean.podman = podman;
  } else console.log(`podman figures left out: ${podmanMissing}`);

  // Berth's default network on a free private /24; podman's network on another one
  const server = await startServerProcess(join(work, 'data'), ['--no-registry', '--cgroup-parent', BERTH_PARENT, '--node-name', 'bench-node', '--default-pool', '10.250.0.0/16', '--default-prefix', '24', '--default-bridge', BRIDGE, '--dns-upstream', 'none']);
  toClean.server = server;
  if (podman) {
    // a /24 no route and no Berth claim (the server's default network included) holds
    const probe = new Runtime({ root: join(work, 'probe') });
    podmanSubnet = await probe.networks.freeSubnet('10.250.0.0/16', 24);
    await probe.close();
    const made = spawnSync('podman', [...podman, 'network', 'create', '--subnet', podmanSubnet!, PODMAN_NET], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`podman network create: ${made.stderr}`);
  }
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

  const cores = spawnSync('nproc').stdout.toString().trim();
  const sides: Side[] = ['berth-none', 'berth-bridge', ...(podman ? (['podman-none', 'podman-bridge'] as Side[]) : [])];
  console.log(`network bench: ${N} containers per side one by one (after ${WARMUP} warm-ups), sides interleaved: ${sides.join(', ')}; ${cores} cores`);
  console.log(`  berth default network on ${BRIDGE}${podman ? `; podman network ${PODMAN_NET} ${podmanSubnet}` : ''}`);
  const out: Record<Side, number[]> = { 'berth-none': [], 'berth-bridge': [], 'podman-none': [], 'podman-bridge': [] };
  const cpu0 = machineBusyMs();
  const wall0 = now();
  for (let i = 0; i < WARMUP + N; i++) {
    const measured = i >= WARMUP;
    for (const side of [...sides.slice(i % sides.length), ...sides.slice(0, i % sides.length)]) {
      const name = `${side}-${i}`;
      let t: number;
      if (side.startsWith('berth')) {
        const t0 = now();
        await apply(server, name, side === 'berth-none' ? 'none' : 'bridge');
        t = (await watch.running(name)) - t0;
      } else {
        t = await timedRun('podman', podmanRunArgs(podman!, name, side === 'podman-none' ? 'none' : PODMAN_NET));
      }
      if (measured) out[side].push(t);
    }
    if ((i + 1) % BATCH === 0) {
      // a clean slate now and then, outside the measured calls
      await deleteBerthContainers(server);
      if (podman) run('podman', [...podman, 'rm', '-af', '-t', '0']);
      await delay(1000);
    }
    if (measured && (i - WARMUP + 1) % 20 === 0) console.log(`  ${i - WARMUP + 1}/${N}`);
  }
  const busy = (machineBusyMs() - cpu0) / ((now() - wall0) * Number(cores));
  await watch.stop();

  const s = Object.fromEntries(Object.entries(out).filter(([, v]) => v.length > 0).map(([k, v]) => [k, summary(v)])) as Record<Side, ReturnType<typeof summary>>;
  const added = (bridge: Side, none: Side) => (s[bridge] && s[none] ? { p50: s[bridge].p50 - s[none].p50, p99: s[bridge].p99 - s[none].p99 } : undefined);
  const berthAdded = added('berth-bridge', 'berth-none')!;
  const podmanAdded = added('podman-bridge', 'podman-none');
  console.log(`\nStart latency (ms), busybox \`sleep 3600\`, ${N} per side; machine ${fmt(busy * 100, 0)}% busy over the run`);
  const row = (label: string, x: ReturnType<typeof summary>) => [label, x.n, fmt(x.p50), fmt(x.p90), fmt(x.p99), fmt(x.max)];
  printTable(['', 'n', 'p50', 'p90', 'p99', 'max'], [
    row('berth apply -> Running, network none', s['berth-none']),
    row('berth apply -> Running, bridge', s['berth-bridge']),
    ...(s['podman-none'] ? [row('podman run -d --network none', s['podman-none'])] : []),
    ...(s['podman-bridge'] ? [row(`podman run -d --network ${PODMAN_NET}`, s['podman-bridge'])] : []),
  ]);
  console.log('\nAdded by bridge networking (bridge minus none, ms)');
  printTable(['', 'p50', 'p99'], [['berth', fmt(berthAdded.p50), fmt(berthAdded.p99)], ...(podmanAdded ? [['podman', fmt(podmanAdded.p50), fmt(podmanAdded.p99)]] : [])]);
  const targets = {
    berthAddsUnder50msAtP50: berthAdded.p50 < TARGET_ADDED_P50_MS,
    berthAddsLessThanPodmanAtP50: podmanAdded ? berthAdded.p50 < podmanAdded.p50 : null,
  };
  console.log(`  target bridge adds < ${TARGET_ADDED_P50_MS} ms at p50: ${targets.berthAddsUnder50msAtP50 ? 'MET' : 'NOT MET'} (${fmt(berthAdded.p50)} ms)`);
  if (podmanAdded) console.log(`  target adds less than podman's bridge at p50: ${targets.berthAddsLessThanPodmanAtP50 ? 'MET' : 'NOT MET'} (${fmt(berthAdded.p50)} vs ${fmt(podmanAdded.p50)} ms)`);

  toClean.server = undefined;
  await deleteBerthContainers(server);
  await server.kill('SIGTERM');
  await cleanupAll();
  toClean.work = undefined;
  toClean.podman = undefined;
  const hostAfter = hostNetState();
  const restored = JSON.stringify({ ...hostAfter, claims: [] }) === JSON.stringify({ ...hostBefore, claims: [] });
  console.log(`  host ip_forward, iptables and nftables as found: ${restored ? 'yes' : hostBefore.claims.length || hostAfter.claims.length ? 'not compared (other Berth runtimes hold networks)' : 'NO'}`);
  if (!restored) console.log(`  before: ${JSON.stringify(hostBefore)}\n  after: ${JSON.stringify(hostAfter)}`);
  return {
    bench: 'network',
    date: new Date().toISOString(),
    host: { cores: Number(cores), busy, runc: run('runc', ['--version']).stdout.split('\n')[0], podman: podman ? run('podman', ['--version']).stdout.trim() : null, cni: '/usr/lib/cni' },
    oneByOneMs: s,
    addedByBridgeMs: { berth: berthAdded, podman: podmanAdded ?? null },
    hostRestored: restored,
    targets,
  };
}

let failedRun = false;
try {
  const result = await main();
  if (result) {
    const outDir = fileURLToPath(new URL('../../bench-results/', import.meta.url));
    await mkdir(outDir, { recursive: true });
    await writeFile(join(outDir, 'network.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log(`\nresults written to ${join(outDir, 'network.json')}`);
  }
} catch (e) {
  failedRun = true;
  console.error(`network bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
} finally {
  await cleanupAll().catch((e: unknown) => console.error(`cleanup: ${String(e)}`));
}
process.exit(failedRun ? 1 : 0);
