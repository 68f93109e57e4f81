/**
 * What a runtime root holds that nothing should once every container is gone, listed from the
 * outside (mountinfo, cgroupfs, directories), independently of the runtime code it judges.
 */
import { readdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export interface Leftovers {
  mounts: string[];
  cgroups: string[];
  containers: string[];
  names: string[];
  temporary: string[];
}

const list = (dir: string): Promise<string[]> => readdir(dir).catch(() => [] as string[]);

export async function leftovers(root: string, cgroupParent: string): Promise<Leftovers> {
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p.startsWith(`${root}/`));
  const bases = existsSync('/sys/fs/cgroup/cgroup.controllers') ? ['/sys/fs/cgroup'] : (await list('/sys/fs/cgroup')).map((n) => join('/sys/fs/cgroup', n));
  const cgroups = new Set<string>();
  for (const b of bases) for (const n of await list(join(b, cgroupParent))) if (/^[a-f0-9]{64}$/.test(n)) cgroups.add(n);
  const containers = (await list(join(root, 'containers'))).filter((n) => /^[a-f0-9]{64}$/.test(n));
  const names = (await list(join(root, 'container-names'))).filter((n) => !n.startsWith('.'));
  const temporary: string[] = [];
  for (const dir of [join(root, 'tmp'), join(root, 'snapshots', 'tmp'), join(root, 'content', 'ingest'), join(root, 'snapshots', 'trash'), join(root, 'snapshots', 'active')]) {
    for (const n of await list(dir)) temporary.push(join(dir, n));
  }
  for (const n of await list(join(root, 'container-names'))) if (n.startsWith('.')) temporary.push(join(root, 'container-names', n));
  for (const n of await list(root)) if (n.includes('.tmp-')) temporary.push(join(root, n));
  return { mounts, cgroups: [...cgroups], containers, names, temporary };
}
