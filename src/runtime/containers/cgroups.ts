import { existsSync } from 'node:fs';
import { readFile, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isNodeError } from '../util/errors.js';

export type CgroupVersion = 'v1' | 'v2';

/** cgroup v2 when /sys/fs/cgroup is the unified hierarchy, otherwise v1 (incl. hybrid, as runc decides). */
export function detectCgroupVersion(): CgroupVersion {
  return existsSync('/sys/fs/cgroup/cgroup.controllers') ? 'v2' : 'v1';
}

/** runc's cgroupsPath for a container (cgroupfs driver). */
export const cgroupsPathFor = (parent: string, id: string): string => `/${parent}/${id}`;

let v1Mounts: Map<string, string> | undefined;

/** v1 hierarchies by controller (and, on a hybrid host, the v2 one as "unified"). */
async function v1MountPoints(): Promise<Map<string, string>> {
  if (v1Mounts) return v1Mounts;
  const out = new Map<string, string>();
  for (const line of (await readFile('/proc/self/mountinfo', 'utf8')).split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const [fstype, , superOpts] = post.split(' ');
    const mountPoint = pre.split(' ')[4];
    if (!mountPoint) continue;
    // hybrid: runc also makes the container's cgroup in the v2 hierarchy mounted beside the v1 ones
    if (fstype === 'cgroup2') {
      if (!out.has('unified')) out.set('unified', mountPoint);
      continue;
    }
    if (fstype !== 'cgroup' || !superOpts) continue;
    for (const opt of superOpts.split(',')) if (!out.has(opt)) out.set(opt, mountPoint);
  }
  v1Mounts = out;
  return out;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if (isNodeError(e, 'ENOENT') || isNodeError(e, 'ENODEV') || isNodeError(e, 'EINVAL')) return undefined;
    throw e;
  }
}

const kv = (text: string | undefined, key: string): number | undefined => {
  const line = text?.split('\n').find((l) => l.startsWith(`${key} `));
  return line ? Number(line.split(' ')[1]) : undefined;
};

export interface CgroupStats {
  cpuUsageNs: number;
  memoryUsageBytes: number;
  memoryLimitBytes: number | null;
  pids: number;
}

/** Reads one container's cgroup (the same path runc was given) on v1 or v2. */
export class Cgroup {
  constructor(
    readonly version: CgroupVersion,
    readonly path: string,
  ) {}

  async dir(controller: string): Promise<string | undefined> {
    if (this.version === 'v2') return join('/sys/fs/cgroup', this.path);
    const mp = (await v1MountPoints()).get(controller);
    return mp ? join(mp, this.path) : undefined;
  }

  private async read(controller: string, file: string): Promise<string | undefined> {
    const d = await this.dir(controller);
    return d ? readText(join(d, file)) : undefined;
  }

  async exists(): Promise<boolean> {
    const d = await this.dir(this.version === 'v2' ? '' : 'memory');
    return d !== undefined && existsSync(d);
  }

  async pids(): Promise<number[]> {
    const text = await this.read('pids', 'cgroup.procs');
    return (text ?? '').split('\n').filter(Boolean).map(Number);
  }

  async stats(): Promise<CgroupStats> {
    if (this.version === 'v2') {
      const max = (await this.read('', 'memory.max'))?.trim();
      return {
        cpuUsageNs: (kv(await this.read('', 'cpu.stat'), 'usage_usec') ?? 0) * 1000,
        memoryUsageBytes: Number((await this.read('', 'memory.current')) ?? 0),
        memoryLimitBytes: max && max !== 'max' ? Number(max) : null,
        pids: Number((await this.read('', 'pids.current')) ?? 0),
      };
    }
    const limit = Number((await this.read('memory', 'memory.limit_in_bytes')) ?? NaN);
    return {
      cpuUsageNs: Number((await this.read('cpuacct', 'cpuacct.usage')) ?? 0),
      memoryUsageBytes: Number((await this.read('memory', 'memory.usage_in_bytes')) ?? 0),
      // v1 reports "no limit" as a huge page-aligned number
      memoryLimitBytes: Number.isFinite(limit) && limit < 2 ** 62 ? limit : null,
      pids: Number((await this.read('pids', 'pids.current')) ?? 0),
    };
  }

  /** Number of OOM kills in this cgroup (v1 memory.oom_control, v2 memory.events). */
  async oomKills(): Promise<number> {
    if (this.version === 'v2') return kv(await this.read('', 'memory.events'), 'oom_kill') ?? 0;
    return kv(await this.read('memory', 'memory.oom_control'), 'oom_kill') ?? 0;
  }

  async freezerState(): Promise<string | undefined> {
    if (this.version === 'v2') {
      const f = await this.read('', 'cgroup.freeze');
      return f === undefined ? undefined : f.trim() === '1' ? 'FROZEN' : 'THAWED';
    }
    return (await this.read('freezer', 'freezer.state'))?.trim();
  }

  /**
   * Removes leftover (empty) cgroup dirs; runc delete normally does this. A cgroup whose last processes
   * are still being reaped is busy (EBUSY) for a moment: `busyForMs` retries that long, as runc does.
   */
  async remove(o: { busyForMs?: number } = {}): Promise<void> {
    const controllers = this.version === 'v2' ? [''] : [...new Set((await v1MountPoints()).keys())];
    const deadline = Date.now() + (o.busyForMs ?? 0);
    for (const c of controllers) {
      const d = await this.dir(c);
      for (let wait = 5; d; wait = Math.min(wait * 2, 50)) {
        const err = await rmdir(d).then(
          () => undefined,
          (e: NodeJS.ErrnoException) => e.code,
        );
        if (err !== 'EBUSY' || Date.now() >= deadline) break;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }
}
