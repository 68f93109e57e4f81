/**
 * Registry benchmark (issue 5): push and pull of a 512 MiB image (4 x 128 MiB random layers)
 * with Berth's client against `berth registry`, side by side in the same run with skopeo against
 * Debian's docker-registry (distribution 2.8); then a pull of an image whose layers are present.
 * Both registries run as their own processes on 127.0.0.1 with storage in a temp dir.
 * Standalone: `npx tsx test/bench/registry.bench.ts`. Writes bench-results/registry.json.
 * BENCH_LAYERS / BENCH_LAYER_MIB change the image's shape.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Distribution } from '../../src/runtime/distribution/index.js';
import { ingestLayerTarball } from '../../src/runtime/images/import.js';
import { Runtime } from '../../src/runtime/index.js';
import { freePort, http, startDockerRegistry } from '../integration/registry/helpers.js';
import { fmt, printTable } from './lib/stats.js';

const LAYERS = Number(process.env.BENCH_LAYERS ?? 4);
const LAYER_MIB = Number(process.env.BENCH_LAYER_MIB ?? 128);
const MiB = 1024 * 1024;
const TOTAL = LAYERS * LAYER_MIB * MiB;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const now = (): bigint => process.hrtime.bigint();
const secs = (t0: bigint): number => Number(now() - t0) / 1e9;

function need(cmd: string): void {
  if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0) {
    console.error(`registry bench needs ${cmd} (scripts/setup installs it)`);
    process.exit(1);
  }
}

async function randomFile(path: string, bytes: number): Promise<void> {
  const out = createWriteStream(path);
  for (let done = 0; done < bytes; done += 8 * MiB) {
    if (!out.write(randomBytes(Math.min(8 * MiB, bytes - done)))) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
}

/** A LAYERS-layer image of random content, built in a runtime root with the runtime's own image code. */
async function makeImage(work: string, rt: Runtime): Promise<void> {
  const layers = [];
  for (let i = 0; i < LAYERS; i++) {
    const dir = join(work, `layer${i}`);
    await mkdir(dir, { recursive: true });
    await randomFile(join(dir, `data-${i}.bin`), LAYER_MIB * MiB);
    const tar = join(work, `layer${i}.tar`);
    spawnSync('tar', ['-C', dir, '--numeric-owner', '-cf', tar, '.'], { stdio: 'inherit' });
    await rm(dir, { recursive: true });
    layers.push(await ingestLayerTarball(rt.images, join(work, 'tmp'), tar));
    await rm(tar);
  }
  const config = {
    created: new Date().toISOString(),
    architecture: 'amd64',
    os: 'linux',
    config: {},
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffID) },
    history: layers.map(() => ({ created_by: 'bench' })),
  };
  await rt.images.addImage(
    Buffer.from(JSON.stringify(config)),
    layers.map((l) => ({ descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: l.digest, size: l.size }, diffID: l.diffID })),
    { names: ['bench/big:1'] },
  );
}

async function startBerthRegistry(dir: string): Promise<{ host: string; stop(): Promise<void> }> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cmd/main.ts'), 'registry', '--data-dir', dir, '--listen', `127.0.0.1:${port}`, '--auth', 'off'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; i < 200; i++) {
    try {
      if ((await http(`http://127.0.0.1:${port}/v2/`)).status === 200) break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    host: `127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((res) => {
        if (child.exitCode !== null) return res();
        child.once('exit', () => res());
        child.kill('SIGTERM');
      }),
  };
}

function skopeo(args: string[]): void {
  const r = spawnSync('skopeo', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`skopeo ${args.join(' ')}: ${r.stderr}`);
}

function dropCaches(): void {
  // fair comparison: every run starts from the same page-cache state when we may flush it
  spawnSync('sh', ['-c', 'sync; [ -w /proc/sys/vm/drop_caches ] && echo 1 > /proc/sys/vm/drop_caches || true']);
}

interface Row {
  what: string;
  seconds: number;
  mbps: number;
}

async function main(): Promise<void> {
  need('skopeo');
  need('docker-registry');
  const work = await mkdtemp(join(tmpdir(), 'berth-bench-registry-'));
  const rows: Row[] = [];
  const add = (what: string, seconds: number, bytes = TOTAL): void => {
    rows.push({ what, seconds, mbps: bytes / MiB / seconds });
  };
  let berth: { host: string; stop(): Promise<void> } | undefined;
  let docker: { host: string; stop(): Promise<void> } | undefined;
  try {
    console.log(`making a ${LAYERS} x ${LAYER_MIB} MiB image...`);
    const src = new Runtime({ root: join(work, 'src') });
    await makeImage(work, src);
    // skopeo's source: the same image as an OCI layout directory
    const archive = join(work, 'big.oci.tar');
    await src.saveImages(['bench/big:1'], archive, 'oci-archive');
    const layout = join(work, 'layout');
    await mkdir(layout);
    spawnSync('tar', ['-C', layout, '-xf', archive]);
    await rm(archive);

    berth = await startBerthRegistry(join(work, 'berth-reg'));
    await mkdir(join(work, 'docker-reg'));
    docker = await startDockerRegistry(join(work, 'docker-reg'));
    const srcDist = new Distribution({ images: src.images, root: src.root, credentialsPath: join(work, 'creds.json') });

    // push
    dropCaches();
    let t = now();
    await srcDist.push(`${berth.host}/bench/big:1`, { localRef: 'bench/big:1' });
    add('push: berth client -> berth registry', secs(t));
    dropCaches();
    t = now();
    skopeo(['copy', '--preserve-digests', '--dest-tls-verify=false', `oci:${layout}:1`, `docker://${docker.host}/bench/big:1`]);
    add('push: skopeo -> docker-registry', secs(t));
    dropCaches();
    t = now();
    await srcDist.push(`${docker.host}/bench/big2:1`, { localRef: 'bench/big:1' });
    add('push: berth client -> docker-registry', secs(t));

    // pull into fresh nodes (berth also unpacks the layers, as a pull must before containers run)
    dropCaches();
    const dst = new Runtime({ root: join(work, 'dst') });
    const dstDist = new Distribution({ images: dst.images, root: dst.root, credentialsPath: join(work, 'creds.json') });
    let downloaded = 0n;
    t = now();
    const started = t;
    await dstDist.pull(`${berth.host}/bench/big:1`, {
      onProgress: (p) => {
        if (p.status === 'Download complete') downloaded = now();
      },
    });
    add('pull: berth registry -> berth client (download + unpack)', secs(t));
    add('pull: berth registry -> berth client (download phase)', Number(downloaded - started) / 1e9);
    dropCaches();
    t = now();
    skopeo(['copy', '--src-tls-verify=false', `docker://${docker.host}/bench/big:1`, `dir:${join(work, 'skopeo-out')}`]);
    add('pull: docker-registry -> skopeo (dir:, no unpack)', secs(t));
    dropCaches();
    const dst2 = new Runtime({ root: join(work, 'dst2') });
    const dst2Dist = new Distribution({ images: dst2.images, root: dst2.root, credentialsPath: join(work, 'creds.json') });
    t = now();
    await dst2Dist.pull(`${docker.host}/bench/big:1`);
    add('pull: docker-registry -> berth client (download + unpack)', secs(t));

    // already present
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      t = now();
      const r = await dstDist.pull(`${berth.host}/bench/big:1`);
      times.push(secs(t));
      if (r.layersDownloaded !== 0) throw new Error('a present image downloaded layers again');
    }
    const present = [...times].sort((a, b) => a - b)[2] as number;

    console.log(`\nimage: ${LAYERS} layers x ${LAYER_MIB} MiB = ${TOTAL / MiB} MiB (random, uncompressed tar)\n`);
    printTable(['operation', 'seconds', 'MiB/s'], rows.map((r) => [r.what, fmt(r.seconds, 2), fmt(r.mbps, 0)]));
    const get = (w: string): number => rows.find((r) => r.what.startsWith(w))?.seconds ?? NaN;
    const pushRatio = get('push: skopeo -> docker-registry') / get('push: berth client -> berth registry');
    const pullRatio = get('pull: docker-registry -> skopeo') / get('pull: berth registry -> berth client (download + unpack)');
    const dlRatio = get('pull: docker-registry -> skopeo') / get('pull: berth registry -> berth client (download phase)');
    console.log(`\npush speed ratio berth/(skopeo+docker-registry): ${fmt(pushRatio, 2)}x (>1 means berth is faster)`);
    console.log(`pull speed ratio, download + unpack: ${fmt(pullRatio, 2)}x; download phase only: ${fmt(dlRatio, 2)}x`);
    console.log(`pull of an image already present (median of 5): ${fmt(present * 1000, 1)} ms`);
    const outDir = join(ROOT, 'bench-results');
    await mkdir(outDir, { recursive: true });
    await writeFile(join(outDir, 'registry.json'), JSON.stringify({ layers: LAYERS, layerMiB: LAYER_MIB, rows, pushRatio, pullRatio, downloadRatio: dlRatio, presentPullMs: present * 1000 }, null, 2) + '\n');
  } finally {
    await berth?.stop();
    await docker?.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
