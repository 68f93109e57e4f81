/**
 * Build benchmark (issue 6), as root with real runc: a five-step Dockerfile built cold (--no-cache)
 * and rebuilt with no change, by `berth build` (the CLI process, and the builder in-process) and by
 * `podman build --runtime runc` on the same Dockerfile and base image, interleaved in one run.
 * The base image is our busybox image, saved by our runtime as a docker-archive and `podman load`ed.
 * Podman is installed with apt-get when missing. Standalone: `npx tsx test/bench/build.bench.ts`.
 * Writes bench-results/build.json.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Builder } from '../../src/runtime/build/builder.js';
import { Runtime } from '../../src/runtime/index.js';
import { busyboxTarball, mountsUnder, removeCgroupParent, runtimeSkipReason } from '../integration/runtime/helpers.js';
import { fmt, printTable, summary } from './lib/stats.js';
import { ensurePodman, PODMAN_ULIMITS, podmanGlobalArgs } from './lib/podman.js';

const COLD_N = Number(process.env.BENCH_BUILD_COLD_N ?? 5);
const WARM_N = Number(process.env.BENCH_BUILD_WARM_N ?? 10);
const REBUILD_TARGET_MS = 300;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const CGROUP_PARENT = `berth-bench-build-${process.pid}`;

const DOCKERFILE = [
  'FROM bench/busybox',
  'ENV APP=/app',
  'WORKDIR /app',
  'COPY app.txt /app/',
  'RUN echo built > /app/built.txt && cat /proc/sys/kernel/random/uuid > /app/id',
  'CMD ["cat", "/app/built.txt"]',
  '',
].join('\n');

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

function timed(cmd: string, args: string[], env?: NodeJS.ProcessEnv): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: env ?? process.env, maxBuffer: 64 << 20 });
  const t = ms(t0);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr || r.stdout}`);
  return t;
}

async function main(): Promise<void> {
  const skip = runtimeSkipReason();
  if (skip) {
    console.log(`skipping build bench: ${skip}`);
    return;
  }
  if (!existsSync(CLI)) {
    console.log('dist/ is missing: building it (npm run build)...');
    const b = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.json')], { stdio: 'inherit' });
    if (b.status !== 0) throw new Error('npm run build failed');
  }
  const podmanMissing = ensurePodman();
  const work = await mkdtemp(join(tmpdir(), 'berth-bench-build-'));
  let server: ChildProcess | undefined;
  const dataDir = join(work, 'berth');
  const rt = new Runtime({ root: join(dataDir, 'runtime'), cgroupParent: CGROUP_PARENT });
  const podRoot = join(work, 'podman-root');
  const podRun = join(work, 'podman-run');
  const podman = podmanGlobalArgs(podRoot, podRun);
  try {
    await rt.importImage(await busyboxTarball(work), { ref: 'bench/busybox' });
    const ctx = join(work, 'ctx');
    await mkdir(ctx);
    await writeFile(join(ctx, 'app.txt'), 'the app\n');
    await writeFile(join(ctx, 'Dockerfile'), DOCKERFILE);

    let podmanReady = podmanMissing === undefined;
    if (podmanReady) {
      const archive = join(work, 'busybox.tar');
      await rt.saveImages(['bench/busybox'], archive, 'docker-archive');
      const load = spawnSync('podman', [...podman, 'load', '-i', archive], { encoding: 'utf8' });
      if (load.status !== 0) {
        console.log(`podman load failed, podman figures left out: ${load.stderr}`);
        podmanReady = false;
      } else {
        // podman names it localhost/bench/busybox; tag the short name the Dockerfile uses too
        spawnSync('podman', [...podman, 'tag', 'localhost/bench/busybox:latest', 'bench/busybox:latest'], { encoding: 'utf8' });
      }
    } else console.log(`podman figures left out: ${podmanMissing}`);

    // `berth build --local`: this machine's node, through the API server found in DATA-DIR/kubeconfig (the server below)
    const berthCli = (extra: string[]): number => timed(process.execPath, [CLI, 'build', '--local', '-q', '--data-dir', dataDir, '-t', 'bench/app', ...extra, ctx], { ...process.env, NODE_NO_WARNINGS: '1' });
    const podmanBuild = (extra: string[]): number =>
      timed('podman', [...podman, 'build', '-q', '--network', 'none', ...PODMAN_ULIMITS, '-t', 'bench/app', ...extra, '-f', join(ctx, 'Dockerfile'), ctx]);
    // the same build in a fresh node process that loads only the runtime and the builder: what `berth build`
    // costs once the CLI command table stops loading every command (and @kubernetes/client-node) up front
    const leanScript = [
      `const { Runtime } = await import(${JSON.stringify(join(ROOT, 'dist', 'runtime', 'index.js'))});`,
      `const { Builder } = await import(${JSON.stringify(join(ROOT, 'dist', 'runtime', 'build', 'builder.js'))});`,
      'const { readFile } = await import("node:fs/promises");',
      'const [root, ctx, noCache] = process.argv.slice(1);',
      'const rt = new Runtime({ root });',
      'const r = await new Builder(rt).build({ contextDir: ctx, dockerfile: await readFile(ctx + "/Dockerfile", "utf8"), tags: ["bench/app"], noCache: noCache === "1" });',
      'console.log(r.imageId);',
    ].join('\n');
    const leanProcess = (noCache: boolean): number =>
      timed(process.execPath, ['--input-type=module', '-e', leanScript, join(dataDir, 'runtime'), ctx, noCache ? '1' : '0'], { ...process.env, NODE_NO_WARNINGS: '1' });
    const builder = new Builder(rt);
    const inProcess = async (noCache: boolean): Promise<number> => {
      const t0 = process.hrtime.bigint();
      await builder.build({ contextDir: ctx, dockerfile: DOCKERFILE, tags: ['bench/app'], noCache });
      return ms(t0);
    };

    // `berth build` as users run it: the context goes through a real `berth server` to its agent.
    server = spawn(process.execPath, [CLI, 'server', '--no-registry', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--cgroup-parent', CGROUP_PARENT], { stdio: 'ignore' });
    const kubeconfig = join(dataDir, 'kubeconfig');
    const berthRemote = (extra: string[]): number =>
      timed(process.execPath, [CLI, 'build', '-q', '--kubeconfig', kubeconfig, '-t', 'bench/app', ...extra, ctx], { ...process.env, NODE_NO_WARNINGS: '1' });
    let remoteReady = false;
    for (let i = 0; i < 60 && !remoteReady; i++) {
      await new Promise((r) => setTimeout(r, 500));
      remoteReady = spawnSync(process.execPath, [CLI, 'build', '-q', '--kubeconfig', kubeconfig, '-t', 'bench/app', ctx], { encoding: 'utf8' }).status === 0;
    }
    if (!remoteReady) console.log('berth server did not come up: the through-the-API figures are left out');

    // warm-up: page cache, first podman storage setup
    berthCli(['--no-cache']);
    if (podmanReady) podmanBuild(['--no-cache']);

    const samples: Record<string, number[]> = {
      'berth build via API server, cold': [],
      'berth CLI cold': [],
      'berth fresh process, builder only, cold': [],
      'berth in-process cold': [],
      'podman cold': [],
      'berth build via API server, rebuild': [],
      'berth CLI rebuild': [],
      'berth fresh process, builder only, rebuild': [],
      'berth in-process rebuild': [],
      'podman rebuild': [],
    };
    for (let i = 0; i < COLD_N; i++) {
      if (remoteReady) samples['berth build via API server, cold']!.push(berthRemote(['--no-cache']));
      samples['berth CLI cold']!.push(berthCli(['--no-cache']));
      samples['berth fresh process, builder only, cold']!.push(leanProcess(true));
      samples['berth in-process cold']!.push(await inProcess(true));
      if (podmanReady) samples['podman cold']!.push(podmanBuild(['--no-cache']));
    }
    for (let i = 0; i < WARM_N; i++) {
      if (remoteReady) samples['berth build via API server, rebuild']!.push(berthRemote([]));
      samples['berth CLI rebuild']!.push(berthCli([]));
      samples['berth fresh process, builder only, rebuild']!.push(leanProcess(false));
      samples['berth in-process rebuild']!.push(await inProcess(false));
      if (podmanReady) samples['podman rebuild']!.push(podmanBuild([]));
    }

    // the node start-up part of every CLI run: `berth --help` loads the same command table
    const startup: number[] = [];
    for (let i = 0; i < WARM_N; i++) startup.push(timed(process.execPath, [CLI, '--help'], { ...process.env, NODE_NO_WARNINGS: '1' }));
    samples['berth CLI start-up only (berth --help)'] = startup;

    const rows = Object.entries(samples)
      .filter(([, v]) => v.length)
      .map(([k, v]) => {
        const s = summary(v);
        return [k, s.n, fmt(s.p50), fmt(s.p90)];
      });
    console.log(`\nfive-step Dockerfile (ENV, WORKDIR, COPY, RUN, CMD on a busybox base); times in ms; load average ${readLoad()}`);
    printTable(['build', 'n', 'p50 ms', 'p90 ms'], rows);
    const p50 = (k: string): number => summary(samples[k] ?? []).p50;
    const ratios: Record<string, number> = {};
    if (podmanReady) {
      if (remoteReady) {
        ratios['via API server rebuild / podman rebuild'] = p50('berth build via API server, rebuild') / p50('podman rebuild');
        ratios['via API server cold / podman cold'] = p50('berth build via API server, cold') / p50('podman cold');
      }
      ratios['CLI cold / podman cold'] = p50('berth CLI cold') / p50('podman cold');
      ratios['CLI rebuild / podman rebuild'] = p50('berth CLI rebuild') / p50('podman rebuild');
      ratios['in-process rebuild / podman rebuild'] = p50('berth in-process rebuild') / p50('podman rebuild');
      ratios['in-process cold / podman cold'] = p50('berth in-process cold') / p50('podman cold');
      ratios['fresh-process rebuild / podman rebuild'] = p50('berth fresh process, builder only, rebuild') / p50('podman rebuild');
      ratios['fresh-process cold / podman cold'] = p50('berth fresh process, builder only, cold') / p50('podman cold');
      console.log('\nratios (p50, berth / podman; below 1 means berth is faster):');
      printTable(['ratio', 'value'], Object.entries(ratios).map(([k, v]) => [k, fmt(v, 2)]));
    }
    const rebuild = p50('berth in-process rebuild');
    console.log(`\nno-change rebuild target (< ${REBUILD_TARGET_MS} ms, builder): ${fmt(rebuild)} ms ${rebuild < REBUILD_TARGET_MS ? 'PASS' : 'FAIL'}`);
    console.log(`no-change rebuild in a fresh process loading only the builder: ${fmt(p50('berth fresh process, builder only, rebuild'))} ms`);
    if (remoteReady) console.log(`no-change rebuild through the API server (berth build): ${fmt(p50('berth build via API server, rebuild'))} ms`);
    console.log(`no-change rebuild via the CLI process (--local): ${fmt(p50('berth CLI rebuild'))} ms, of which node start-up + command table load is ~${fmt(p50('berth CLI start-up only (berth --help)'))} ms`);
    const outDir = join(ROOT, 'bench-results');
    await mkdir(outDir, { recursive: true });
    await writeFile(
      join(outDir, 'build.json'),
      `${JSON.stringify({ date: new Date().toISOString(), dockerfile: DOCKERFILE, summaries: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summary(v)])), ratios }, null, 2)}\n`,
    );
  } finally {
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((r) => server!.once('exit', r));
    }
    for (const c of await rt.containers.list({ all: true }).catch(() => [])) await rt.containers.remove(c.id, { force: true, volumes: true }).catch(() => undefined);
    if (existsSync(podRoot)) spawnSync('podman', [...podman, 'system', 'reset', '--force'], { stdio: 'ignore' });
    for (const m of mountsUnder(work).reverse()) spawnSync('umount', ['-l', m]);
    await removeCgroupParent(CGROUP_PARENT);
    await rm(work, { recursive: true, force: true });
  }
}

function readLoad(): string {
  return spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.split(' ').slice(0, 3).join(' ');
}

await main();
