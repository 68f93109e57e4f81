/**
 * Docker API benchmark (issue 16): the same docker CLI, side by side in one run, against Berth's
 * Docker socket (`berth server --docker-socket`), `podman system service` and a real dockerd
 * (Debian docker.io, started here with --iptables=false --bridge=none and its own data root, exec
 * root and socket). Each is loaded with the same busybox image (a docker-archive built from Debian's
 * busybox-static, `docker load`: no internet). Measured, interleaved round-robin, 50 times each:
 * `docker run --rm --network none busybox true`, and `docker run -d --network none busybox sleep 600`
 * followed by `docker rm -f ID`. Writes bench-results/docker.json.
 * Target: Berth faster than podman, and within 1.5x of dockerd.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxDockerArchive } from '../helpers/docker-archive.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { mountsUnder, runtimeSkipReason } from '../integration/runtime/helpers.js';
import { sweepCgroups } from './lib/cgroups.js';
import { ensurePodman, podmanGlobalArgs } from './lib/podman.js';
import { fmt, printTable, summary } from './lib/stats.js';

const N = Number(process.env.BENCH_DOCKER_N ?? 50);
const WARMUP = 3;
const BERTH_PARENT = `berth-bench-docker-${process.pid}`;
const DOCKERD_PARENT = `berth-bench-dockerd-${process.pid}`;
const PODMAN_PARENT = `berth-bench-dockerpodman-${process.pid}`;
const DOCKER = process.env.BENCH_DOCKER_CLI ?? 'docker';

const now = (): number => performance.now();
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function docker(host: string, args: string[], o: { check?: boolean } = {}): { code: number; out: string; err: string } {
  const r = spawnSync(DOCKER, args, { env: { ...process.env, DOCKER_HOST: host }, encoding: 'utf8' });
  if (o.check !== false && r.status !== 0) throw new Error(`DOCKER_HOST=${host} docker ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return { code: r.status ?? -1, out: r.stdout ?? '', err: r.stderr ?? '' };
}

/** Wall time of one docker CLI invocation. */
function timed(host: string, args: string[]): Promise<{ ms: number; out: string }> {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const child = spawn(DOCKER, args, { env: { ...process.env, DOCKER_HOST: host }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve({ ms: now() - t0, out: out.trim() }) : reject(new Error(`DOCKER_HOST=${host} docker ${args.join(' ')} failed (${code}): ${err.trim()}`))));
  });
}

async function waitForSocket(host: string, what: string, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}:\n${log()}`);
    if (docker(host, ['version', '--format', '{{.Server.Version}}'], { check: false }).code === 0) return;
    await delay(100);
  }
  throw new Error(`${what} did not answer on ${host}:\n${log()}`);
}

interface Side {
  name: 'berth' | 'podman' | 'dockerd';
  host: string;
}

interface Cleanup {
  work?: string;
  berth?: ServerProcess;
  dockerd?: ChildProcess;
  podman?: ChildProcess;
  podmanArgs?: string[];
  sides: Side[];
}
const toClean: Cleanup = { sides: [] };

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  await Promise.race([exited, delay(20_000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

async function cleanupAll(): Promise<void> {
  for (const s of toClean.sides) {
    const ids = docker(s.host, ['ps', '-aq'], { check: false }).out.split('\n').filter(Boolean);
    if (ids.length) docker(s.host, ['rm', '-f', ...ids], { check: false });
  }
  await toClean.berth?.kill('SIGTERM');
  await stop(toClean.dockerd);
  await stop(toClean.podman);
  if (toClean.podmanArgs) spawnSync('podman', [...toClean.podmanArgs, 'rm', '-af', '-t', '0']);
  const work = toClean.work;
  for (let pass = 0; work && pass < 5 && mountsUnder(work).length > 0; pass++) {
    for (const m of mountsUnder(work).reverse()) if (spawnSync('umount', [m]).status !== 0) spawnSync('umount', ['-l', m]);
  }
  await sweepCgroups([BERTH_PARENT, DOCKERD_PARENT, PODMAN_PARENT]);
  if (work) await rm(work, { recursive: true, force: true });
}

async function main(): Promise<void> {
  const skip = runtimeSkipReason();
  if (skip) {
    console.log(`skipping docker bench: ${skip}`);
    return;
  }
  if (spawnSync('sh', ['-c', `command -v ${DOCKER} && command -v dockerd`]).status !== 0) throw new Error('the docker bench needs the docker CLI and dockerd (Debian docker.io; scripts/setup installs it)');
  const podmanMissing = ensurePodman();
  // a short path: dockerd's and containerd's sockets live under it
  const work = (toClean.work = await mkdtemp(join(tmpdir(), 'bd-')));
  const archive = await busyboxDockerArchive(work);

  // Berth: the all-in-one server with its Docker socket
  const berthSock = join(work, 'berth.sock');
  const berth = (toClean.berth = await startServerProcess(join(work, 'berth'), ['--no-registry', '--cgroup-parent', BERTH_PARENT, '--docker-socket', berthSock, '--node-name', 'bench']));
  const sides: Side[] = [{ name: 'berth', host: `unix://${berthSock}` }];
  await waitForSocket(sides[0]!.host, 'berth', berth.child, () => berth.output());

  // dockerd: its own data root, exec root and socket; no iptables, no bridge
  const dockerdSock = join(work, 'dockerd.sock');
  await mkdir(join(work, 'dockerd'), { recursive: true });
  let dockerdLog = '';
  await writeFile(join(work, 'daemon.json'), '{}');
  const dockerd = (toClean.dockerd = spawn('dockerd', [
    '--iptables=false', '--ip6tables=false', '--bridge=none', '--ip-masq=false', '--userland-proxy=false',
    '--data-root', join(work, 'dockerd', 'data'), '--exec-root', join(work, 'dx'), '--pidfile', join(work, 'dockerd.pid'),
    '--host', `unix://${dockerdSock}`, '--cgroup-parent', `/${DOCKERD_PARENT}`, '--log-level', 'error', '--config-file', join(work, 'daemon.json'),
  ], { stdio: ['ignore', 'pipe', 'pipe'] }));
  dockerd.stdout!.on('data', (d: Buffer) => (dockerdLog += d.toString()));
  dockerd.stderr!.on('data', (d: Buffer) => (dockerdLog += d.toString()));
  sides.push({ name: 'dockerd', host: `unix://${dockerdSock}` });
  await waitForSocket(`unix://${dockerdSock}`, 'dockerd', dockerd, () => dockerdLog);

  // podman's Docker-compatible service on a private store
  if (!podmanMissing) {
    const podmanSock = join(work, 'podman.sock');
    const args = (toClean.podmanArgs = podmanGlobalArgs(join(work, 'podman', 'root'), join(work, 'podman', 'run')));
    let podmanLog = '';
    // podman's default ulimits exceed this host's hard limits (runc then refuses to start): the ones runc's default spec has
    const conf = join(work, 'containers.conf');
    await writeFile(conf, '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n');
    const podman = (toClean.podman = spawn('podman', [...args, 'system', 'service', '--time', '0', `unix://${podmanSock}`], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CONTAINERS_CONF: conf } }));
    podman.stdout!.on('data', (d: Buffer) => (podmanLog += d.toString()));
    podman.stderr!.on('data', (d: Buffer) => (podmanLog += d.toString()));
    sides.push({ name: 'podman', host: `unix://${podmanSock}` });
    await waitForSocket(`unix://${podmanSock}`, 'podman', podman, () => podmanLog);
  } else console.log(`podman unavailable: ${podmanMissing}`);
  toClean.sides = sides;

  for (const s of sides) docker(s.host, ['load', '-i', archive]);
  const cgroupArgs = (s: Side): string[] => (s.name === 'podman' ? ['--cgroup-parent', `/${PODMAN_PARENT}`] : []);
  const runRm = (s: Side) => timed(s.host, ['run', '--rm', '--network', 'none', ...cgroupArgs(s), 'busybox', 'true']);
  const runDetachedThenRm = async (s: Side) => {
    const a = await timed(s.host, ['run', '-d', '--network', 'none', ...cgroupArgs(s), 'busybox', 'sleep', '600']);
    const b = await timed(s.host, ['rm', '-f', a.out]);
    return { run: a.ms, rm: b.ms, both: a.ms + b.ms };
  };

  const results: Record<string, { runRm: number[]; runD: number[]; rmF: number[]; pair: number[] }> = {};
  for (const s of sides) results[s.name] = { runRm: [], runD: [], rmF: [], pair: [] };
  const loads: number[] = [];
  for (let i = 0; i < WARMUP + N; i++) {
    const measured = i >= WARMUP;
    // round robin, starting with a different side each time, so load changes hit every side alike
    for (let k = 0; k < sides.length; k++) {
      const s = sides[(i + k) % sides.length]!;
      const a = await runRm(s);
      const b = await runDetachedThenRm(s);
      if (measured) {
        results[s.name]!.runRm.push(a.ms);
        results[s.name]!.runD.push(b.run);
        results[s.name]!.rmF.push(b.rm);
        results[s.name]!.pair.push(b.both);
      }
    }
    if (measured) loads.push(loadavg()[0]!);
    if ((i + 1) % 10 === 0) console.log(`  ${i + 1}/${WARMUP + N} rounds (load ${loadavg()[0]!.toFixed(1)})`);
  }

  const rows: (string | number)[][] = [];
  const out: Record<string, unknown> = { n: N, load: { min: Math.min(...loads), max: Math.max(...loads), mean: loads.reduce((a, b) => a + b, 0) / loads.length }, sides: {} };
  for (const s of sides) {
    const r = results[s.name]!;
    const sums = { runRm: summary(r.runRm), runD: summary(r.runD), rmF: summary(r.rmF), pair: summary(r.pair) };
    (out.sides as Record<string, unknown>)[s.name] = sums;
    rows.push([`${s.name}: run --rm true`, fmt(sums.runRm.p50), fmt(sums.runRm.p99)]);
    rows.push([`${s.name}: run -d`, fmt(sums.runD.p50), fmt(sums.runD.p99)]);
    rows.push([`${s.name}: rm -f`, fmt(sums.rmF.p50), fmt(sums.rmF.p99)]);
    rows.push([`${s.name}: run -d + rm -f`, fmt(sums.pair.p50), fmt(sums.pair.p99)]);
  }
  console.log(`\ndocker CLI through each endpoint, ${N} runs each (ms), load ${fmt(Math.min(...loads))}-${fmt(Math.max(...loads))}`);
  printTable(['command', 'p50', 'p99'], rows);
  const b = out.sides as Record<string, { runRm: { p50: number; p99: number }; pair: { p50: number; p99: number } }>;
  const ratios: Record<string, unknown> = {};
  for (const other of ['dockerd', 'podman'] as const) {
    if (!b[other]) continue;
    ratios[other] = {
      runRm: { p50: b.berth!.runRm.p50 / b[other].runRm.p50, p99: b.berth!.runRm.p99 / b[other].runRm.p99 },
      pair: { p50: b.berth!.pair.p50 / b[other].pair.p50, p99: b.berth!.pair.p99 / b[other].pair.p99 },
    };
    console.log(`berth / ${other}: run --rm ${fmt(b.berth!.runRm.p50 / b[other].runRm.p50, 2)}x (p50), ${fmt(b.berth!.runRm.p99 / b[other].runRm.p99, 2)}x (p99); run -d + rm -f ${fmt(b.berth!.pair.p50 / b[other].pair.p50, 2)}x (p50), ${fmt(b.berth!.pair.p99 / b[other].pair.p99, 2)}x (p99)`);
  }
  out.ratios = ratios;
  const fasterThanPodman = !b.podman || (b.berth!.runRm.p50 < b.podman.runRm.p50 && b.berth!.pair.p50 < b.podman.pair.p50);
  const withinDockerd = b.berth!.runRm.p50 <= 1.5 * b.dockerd!.runRm.p50 && b.berth!.pair.p50 <= 1.5 * b.dockerd!.pair.p50;
  out.target = { fasterThanPodman, within15xDockerd: withinDockerd };
  console.log(`target (p50): faster than podman: ${fasterThanPodman ? 'yes' : 'NO'}; within 1.5x of dockerd: ${withinDockerd ? 'yes' : 'NO'}`);
  await mkdir('bench-results', { recursive: true });
  await writeFile(join('bench-results', 'docker.json'), `${JSON.stringify({ date: new Date().toISOString(), ...out }, null, 2)}\n`);
  if (!existsSync(join('bench-results', 'docker.json'))) throw new Error('no results written');
}

main()
  .catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => cleanupAll().catch((e: unknown) => console.error('cleanup:', e)));
