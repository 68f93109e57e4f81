/**
 * The soak (not in CI): a real `berth server` (built dist/) with 50 containers kept alive while
 * containers are deleted and created for 30 minutes; each minute one line with the RSS and open
 * descriptors of every Berth process, the number of conmon monitors, mounts under the data
 * directory and container cgroups. At the end: first and last figures side by side (flat within
 * 10%?), then everything is deleted and what is left is listed (nothing, or the soak fails).
 *
 *   scripts/soak [--minutes 30] [--containers 50] [--interval-ms 1000]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startServerProcess, type ServerProcess } from '../test/helpers/server-process.js';
import { detectCgroupVersion } from '../src/runtime/containers/cgroups.js';
import { leftovers } from '../test/helpers/leftovers.js';

const { values } = parseArgs({
  options: { minutes: { type: 'string', default: '30' }, containers: { type: 'string', default: '50' }, 'interval-ms': { type: 'string', default: '1000' } },
});
const MINUTES = Number(values.minutes);
const ALIVE = Number(values.containers);
const INTERVAL = Number(values['interval-ms']);
const TARBALL = '/usr/local/share/berth/busybox-rootfs.tar';
const GV = '/apis/berth.dev/v1alpha1/namespaces/default';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function status(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s*(\\d+)`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? NaN);
}
const fds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

/** Berth processes: the server and any berth role it runs as a child (none today: all in one process). */
function berthPids(server: ServerProcess): number[] {
  const out = [server.child.pid!];
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (cmd.includes('dist/cmd/main.js') && Number(p) !== server.child.pid && readFileSync(`/proc/${p}/status`, 'utf8').includes(`PPid:\t${server.child.pid}`)) out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}

function conmons(root: string): number {
  let n = 0;
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (cmd.startsWith('conmon\0') && cmd.includes(root)) n++;
    } catch {
      // gone
    }
  }
  return n;
}

async function cgroupCount(parent: string): Promise<number> {
  const dir = detectCgroupVersion() === 'v2' ? join('/sys/fs/cgroup', parent) : join('/sys/fs/cgroup/memory', parent);
  return (await readdir(dir).catch(() => [] as string[])).filter((n) => /^[a-f0-9]{64}$/.test(n)).length;
}

const mountCount = (under: string): number => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => (l.split(' ')[4] ?? '').startsWith(`${under}/`)).length;

interface Sample {
  minute: number;
  rss: number[];
  fds: number[];
  conmons: number;
  mounts: number;
  cgroups: number;
  running: number;
  ops: number;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-soak-'));
  const data = join(dir, 'data');
  const cgroupParent = `berth-soak-${process.pid}`;
  const server = await startServerProcess(data, ['--cgroup-parent', cgroupParent, '--node-name', 'soak-node', '--no-registry']);
  const api = async (method: string, path: string, body?: unknown): Promise<Response> =>
    server.api(path, { method, ...(body ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
  let failed = false;
  try {
    await api('POST', `${GV}/images`, { apiVersion: 'berth.dev/v1alpha1', kind: 'Image', metadata: { name: 'busybox' }, spec: { ref: 'busybox:latest', source: { import: { path: TARBALL, format: 'rootfs' } } } });
    let seq = 0;
    const alive: string[] = [];
    const create = async (): Promise<void> => {
      const name = `soak-${seq++}`;
      const r = await api('POST', `${GV}/containers`, { apiVersion: 'berth.dev/v1alpha1', kind: 'Container', metadata: { name }, spec: { image: 'busybox:latest', command: ['sh', '-c', 'while :; do echo tick; sleep 5; done'] } });
      if (r.status === 201) alive.push(name);
    };
    for (let i = 0; i < ALIVE; i++) await create();
    const samples: Sample[] = [];
    let ops = 0;
    const started = Date.now();
    let nextSample = started + 60_000;
    console.log('minute  rss(MiB) per Berth process  fds  conmons  mounts  cgroups  running  ops');
    while (Date.now() - started < MINUTES * 60_000) {
      const victim = alive.splice(Math.floor(Math.random() * alive.length), 1)[0];
      if (victim) await api('DELETE', `${GV}/containers/${victim}`);
      await create();
      ops += 2;
      await sleep(INTERVAL);
      if (Date.now() >= nextSample) {
        nextSample += 60_000;
        const pids = berthPids(server);
        const list = (await (await api('GET', `${GV}/containers`)).json()) as { items: Array<{ status?: { phase?: string } }> };
        const s: Sample = {
          minute: samples.length + 1,
          rss: pids.map((p) => Math.round(status(p, 'VmRSS') / 1024)),
          fds: pids.map(fds),
          conmons: conmons(data),
          mounts: mountCount(data),
          cgroups: await cgroupCount(cgroupParent),
          running: list.items.filter((c) => c.status?.phase === 'Running').length,
          ops,
        };
        samples.push(s);
        console.log(`${String(s.minute).padStart(6)}  ${s.rss.join('/').padStart(25)}  ${s.fds.join('/').padStart(3)}  ${String(s.conmons).padStart(7)}  ${String(s.mounts).padStart(6)}  ${String(s.cgroups).padStart(7)}  ${String(s.running).padStart(7)}  ${s.ops}`);
      }
    }
    // flat: the last third against the second minute (the first is warm-up), by the mean
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
    const early = samples.slice(1, Math.max(2, Math.ceil(samples.length / 3)));
    const late = samples.slice(-Math.max(1, Math.floor(samples.length / 3)));
    for (const [what, get] of [['rss', (s: Sample) => s.rss[0] ?? 0], ['fds', (s: Sample) => s.fds[0] ?? 0], ['mounts', (s: Sample) => s.mounts], ['cgroups', (s: Sample) => s.cgroups]] as const) {
      const a = mean(early.map(get));
      const b = mean(late.map(get));
      const change = a === 0 ? 0 : (b - a) / a;
      console.log(`${what}: early ${a.toFixed(1)}, late ${b.toFixed(1)}, change ${(change * 100).toFixed(1)}% ${Math.abs(change) <= 0.1 ? '(flat within 10%)' : '(NOT flat)'}`);
    }
    // everything goes; nothing may be left
    await api('DELETE', `${GV}/containers`);
    for (let i = 0; i < 600; i++) {
      const list = (await (await api('GET', `${GV}/containers`)).json()) as { items: unknown[] };
      if (list.items.length === 0) break;
      await sleep(500);
    }
  } catch (e) {
    failed = true;
    console.error(`soak: ${(e as Error).message}`);
  } finally {
    await server.kill('SIGTERM');
    const left = await leftovers(join(data, 'runtime'), cgroupParent);
    console.log(`left after deleting everything: ${JSON.stringify(left)}`);
    if (Object.values(left).some((v) => v.length > 0)) failed = true;
    const { Runtime } = await import('../src/runtime/index.js');
    const rt = new Runtime({ root: join(data, 'runtime'), cgroupParent });
    for (const c of await rt.containers.records.all()) await rt.containers.remove(c.id, { force: true, volumes: true }).catch(() => undefined);
    await rt.close();
    for (const b of ['/sys/fs/cgroup', ...(await readdir('/sys/fs/cgroup').catch(() => [] as string[])).map((n) => join('/sys/fs/cgroup', n))]) await rmdir(join(b, cgroupParent)).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
  process.exit(failed ? 1 : 0);
}

void main();
