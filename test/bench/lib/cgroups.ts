/** Cgroup probes and last-resort cleanup for benchmarks: every hierarchy of v1, or the v2 tree. */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';

export function cgroupBases(): string[] {
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) return ['/sys/fs/cgroup'];
  return spawnSync('ls', ['/sys/fs/cgroup']).stdout.toString().split('\n').filter(Boolean).map((n) => join('/sys/fs/cgroup', n));
}

/** Memory charged to a parent cgroup and all its children (v1 with use_hierarchy, or v2). */
export function cgroupMemory(parent: string): number | undefined {
  for (const f of [`/sys/fs/cgroup/memory/${parent}/memory.usage_in_bytes`, `/sys/fs/cgroup/${parent}/memory.current`]) {
    if (existsSync(f)) return Number(readFileSync(f, 'utf8').trim());
  }
  return undefined;
}

/** Last resort: SIGKILLs every process still in a child of one of our cgroup parents (their conmons then exit). */
export async function killCgroupProcs(parent: string): Promise<number> {
  let killed = 0;
  for (const b of cgroupBases()) {
    const dir = join(b, parent);
    for (const n of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (!n.isDirectory()) continue;
      const procs = await readFile(join(dir, n.name, 'cgroup.procs'), 'utf8').catch(() => '');
      for (const pid of procs.split('\n').filter(Boolean).map(Number)) {
        try {
          process.kill(pid, 'SIGKILL');
          killed++;
        } catch {
          // already gone
        }
      }
    }
  }
  return killed;
}

/** Removes a cgroup parent and any children left in it, in every hierarchy. */
export async function removeCgroupTree(parent: string): Promise<void> {
  for (const b of cgroupBases()) {
    const dir = join(b, parent);
    for (const n of await readdir(dir, { withFileTypes: true }).catch(() => [])) if (n.isDirectory()) await rmdir(join(dir, n.name)).catch(() => undefined);
    await rmdir(dir).catch(() => undefined);
  }
}

/** Last-resort cleanup of a bench's cgroup parents: kills what still runs in them (with a warning), then removes them. */
export async function sweepCgroups(parents: readonly string[]): Promise<void> {
  let stray = 0;
  for (const p of parents) stray += await killCgroupProcs(p);
  if (stray > 0) {
    console.error(`warning: killed ${stray} stray container processes left in the bench cgroups`);
    await new Promise((r) => setTimeout(r, 500));
  }
  for (const p of parents) await removeCgroupTree(p);
}
