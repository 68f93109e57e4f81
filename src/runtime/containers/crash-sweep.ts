/**
 * The crash sweep: what a Berth process killed at any point (kill -9 during a create, a remove, a
 * build, a cp, an import) leaves in its runtime root without a live owner, removed by the next
 * owner of the root when it starts (the agent, before it reconciles anything). Owner means: a
 * container record (a create's commit point), or a create in progress in a process that still runs
 * (the `creating` marker). Everything else goes, in an order that never deletes through a mount:
 * stray monitors and container processes first, runc state, cgroups, then mounts (staging points of
 * subPaths, overlays), then directories, name files and temporary files.
 */
import { readdirSync } from 'node:fs';
import { readFile, rm, rmdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { ImageStore } from '../images/store.js';
import type { SnapshotStore } from '../snapshots/store.js';
import { isMountPoint, unmount } from '../snapshots/overlay.js';
import { readDirOrEmpty } from '../util/fs.js';
import { unstageSubPaths } from '../volumes/subpath.js';
import { Cgroup, cgroupsPathFor, type CgroupVersion } from './cgroups.js';
import type { ContainerRecord, ContainerRecords, ContainerState } from './record.js';
import type { Runc } from './runc.js';

export interface SweepReport {
  /** Container directories without an owner, removed. */
  containers: string[];
  /** Build containers (their build died with the process that ran it), removed. */
  buildContainers: string[];
  names: string[];
  snapshots: string[];
  mounts: string[];
  cgroups: string[];
  /** Temporary files and directories. */
  temporary: string[];
  /** Monitors (conmon) and container processes of containers without a record, killed. */
  processes: number[];
}

export interface SweepDeps {
  root: string;
  records: ContainerRecords;
  snapshots: SnapshotStore;
  images: ImageStore;
  runc: Runc;
  cgroupParent: string;
  cgroupVersion: CgroupVersion;
  /** The container's state, observed (an exit while nobody watched is recorded, its cgroup removed). */
  state(rec: ContainerRecord): Promise<ContainerState>;
  /** Removes a container with everything it has (the metadata service's remove, forced). */
  removeContainer(id: string): Promise<void>;
  log(line: string): void;
}

const HEX64 = /^[a-f0-9]{64}$/;
const live = (s: ContainerState): boolean => s.status === 'running' || s.status === 'paused';

/** conmon processes of this runtime root, by the container ID they monitor. */
async function conmonsOf(runcRoot: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    const argv = (await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (basename(argv[0] ?? '') !== 'conmon' || !argv.includes(`--root=${runcRoot}`)) continue;
    const id = argv[argv.indexOf('-c') + 1];
    if (id && HEX64.test(id)) out.set(id, Number(p));
  }
  return out;
}

function kill(pid: number): boolean {
  try {
    process.kill(pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

/** The container cgroup directories under the parent, in every hierarchy. */
async function cgroupDirs(version: CgroupVersion, parent: string): Promise<Map<string, string[]>> {
  const bases = version === 'v2' ? ['/sys/fs/cgroup'] : (await readDirOrEmpty('/sys/fs/cgroup')).map((n) => join('/sys/fs/cgroup', n));
  const out = new Map<string, string[]>();
  for (const b of bases) {
    for (const n of await readDirOrEmpty(join(b, parent))) {
      if (!HEX64.test(n)) continue;
      out.set(n, [...(out.get(n) ?? []), join(b, parent, n)]);
    }
  }
  return out;
}

async function killCgroupProcs(dirs: readonly string[], report: SweepReport): Promise<void> {
  for (const d of dirs) {
    const procs = (await readFile(join(d, 'cgroup.procs'), 'utf8').catch(() => '')).split('\n').filter(Boolean).map(Number);
    for (const pid of procs) if (!report.processes.includes(pid) && kill(pid)) report.processes.push(pid);
  }
}

async function removeCgroupDirs(dirs: readonly string[]): Promise<boolean> {
  let all = true;
  for (const d of dirs) {
    // the kernel takes a moment to empty a cgroup whose processes were just killed
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      ok = await rmdir(d).then(
        () => true,
        (e: NodeJS.ErrnoException) => e.code === 'ENOENT',
      );
      if (!ok) await new Promise((r) => setTimeout(r, 20));
    }
    all &&= ok;
  }
  return all;
}

export async function crashSweep(d: SweepDeps): Promise<SweepReport> {
  const report: SweepReport = { containers: [], buildContainers: [], names: [], snapshots: [], mounts: [], cgroups: [], temporary: [], processes: [] };
  const owned = new Set<string>();
  const orphans: string[] = [];
  const builds: ContainerRecord[] = [];
  for (const id of await d.records.ids()) {
    const rec = await d.records.read(id).catch(() => undefined);
    if (rec) {
      owned.add(id);
      if (rec.options.labels['berth.build'] === 'true') builds.push(rec);
    } else if (await d.records.ownerLive(id)) owned.add(id);
    else orphans.push(id);
  }

  // 1. processes: monitors of containers without an owner (and what runs in their cgroups)
  const conmons = await conmonsOf(d.runc.root);
  for (const [id, pid] of conmons) if (!owned.has(id) && kill(pid)) report.processes.push(pid);
  const cgroups = await cgroupDirs(d.cgroupVersion, d.cgroupParent.replace(/^\//, ''));
  for (const [id, dirs] of cgroups) if (!owned.has(id)) await killCgroupProcs(dirs, report);

  // 2. runc state of containers without an owner
  for (const id of await readDirOrEmpty(d.runc.root)) {
    if (HEX64.test(id) && !owned.has(id)) await d.runc.delete(id).catch((e: unknown) => d.log(`crash sweep: runc delete ${id}: ${(e as Error).message}`));
  }

  // 3. build containers: their build died with the process that ran it
  for (const rec of builds) {
    await d.removeContainer(rec.id).catch((e: unknown) => d.log(`crash sweep: build container ${rec.id}: ${(e as Error).message}`));
    owned.delete(rec.id);
    report.buildContainers.push(rec.id);
    const cfg = (await d.images.config(rec.imageId).catch(() => undefined)) as Record<string, unknown> | undefined;
    if (cfg && 'berth.build.intermediate' in cfg) await d.images.remove(rec.imageId, { force: true }).catch(() => undefined);
  }

  // 4. cgroups: of containers without an owner, and of owned containers that are not running
  for (const [id, dirs] of await cgroupDirs(d.cgroupVersion, d.cgroupParent.replace(/^\//, ''))) {
    if (owned.has(id)) {
      const rec = await d.records.read(id).catch(() => undefined);
      if (!rec || live(await d.state(rec).catch(() => ({ status: 'running' }) as ContainerState))) continue;
      await new Cgroup(d.cgroupVersion, cgroupsPathFor(d.cgroupParent, id)).remove();
      continue;
    }
    if (await removeCgroupDirs(dirs)) report.cgroups.push(id);
    else d.log(`crash sweep: cgroup of ${id} could not be removed`);
  }

  // 5. containers without an owner: staging mounts, snapshot, directory
  for (const id of orphans) {
    const paths = d.records.paths(id);
    try {
      await unstageSubPaths(paths.subPaths);
      await d.snapshots.remove(id);
      await rm(paths.dir, { recursive: true, force: true });
      report.containers.push(id);
    } catch (e) {
      d.log(`crash sweep: container directory ${id}: ${(e as Error).message}`);
    }
  }

  // 6. snapshots without an owner (a build's, a create's that died)
  for (const key of await d.snapshots.listActive()) {
    if (owned.has(key)) continue;
    try {
      await d.snapshots.remove(key);
      report.snapshots.push(key);
    } catch (e) {
      d.log(`crash sweep: snapshot ${key}: ${(e as Error).message}`);
    }
  }

  // 7. any other mount under the root (a staging point or probe whose directory went first), deepest first
  const mine = (p: string): boolean => {
    // network namespaces are the network sweep's (Runtime.sweepNetworks, run right after): it runs the
    // CNI DEL of a dead container's attachment before its namespace goes, and keeps live ones
    if (p.startsWith(`${d.root}/netns/`)) return true;
    const m = /\/snapshots\/active\/([^/]+)\/merged$/.exec(p) ?? /\/containers\/([a-f0-9]{64})\/subpaths\/[^/]+$/.exec(p);
    return m !== null && owned.has(m[1] as string);
  };
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p.startsWith(`${d.root}/`) && !mine(p))
    .sort((a, b) => b.length - a.length);
  for (const p of mounts) {
    if (!(await isMountPoint(p))) continue;
    await unmount(p).then(
      () => report.mounts.push(p),
      (e: unknown) => d.log(`crash sweep: unmount ${p}: ${(e as Error).message}`),
    );
  }

  // 8. name files naming no owner, and reservations that never became a name
  const namesDir = d.records.names.dir;
  for (const n of await readDirOrEmpty(namesDir)) {
    const p = join(namesDir, n);
    if (n.startsWith('.tmp-')) {
      await rm(p, { force: true });
      report.temporary.push(p);
      continue;
    }
    const holder = (await readFile(p, 'utf8').catch(() => '')).trim();
    if (HEX64.test(holder) && (owned.has(holder) || (await d.records.ownerLive(holder)))) continue;
    await d.records.names.release(n, holder);
    report.names.push(n);
  }

  // 9. temporary files and directories: nothing is in progress before the owner starts
  const temps: string[] = [];
  for (const dir of [join(d.root, 'tmp'), join(d.root, 'snapshots', 'tmp'), join(d.root, 'content', 'ingest')]) {
    for (const n of await readDirOrEmpty(dir)) temps.push(join(dir, n));
  }
  for (const n of await readDirOrEmpty(join(d.root, 'volumes'))) if (n.startsWith('.tmp-')) temps.push(join(d.root, 'volumes', n));
  for (const n of await readDirOrEmpty(d.root)) if (n.includes('.tmp-')) temps.push(join(d.root, n));
  for (const id of owned) {
    const paths = d.records.paths(id);
    for (const n of await readDirOrEmpty(paths.dir)) if (n.includes('.tmp-') || n === 'ctr.log.tmp') temps.push(join(paths.dir, n));
    for (const n of await readDirOrEmpty(paths.execDir)) temps.push(join(paths.execDir, n));
  }
  for (const p of temps) {
    // never through a mount point (a probe or staging point still mounted is left, and logged)
    if (await isMountPoint(p)) {
      d.log(`crash sweep: ${p} is still a mount point; left in place`);
      continue;
    }
    await rm(p, { recursive: true, force: true });
    report.temporary.push(p);
  }
  await d.snapshots.emptyTrash();
  return report;
}
