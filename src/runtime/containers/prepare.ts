/** What create prepares besides the rootfs: the mounts (binds, volumes, volumes-from) and /etc files. */
import { existsSync } from 'node:fs';
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { invalid, RuntimeError } from '../util/errors.js';
import { pathExists } from '../util/fs.js';
import type { VolumeStore } from '../volumes/store.js';
import { checkSubPath } from '../volumes/subpath.js';
import type { CreateOptionsSchema, ResolvedMount } from './options.js';
import type { ContainerRecords } from './record.js';

type ParsedCreateOptions = ReturnType<typeof CreateOptionsSchema.parse>;

/** The container's mounts in order: its own, those of --volumes-from, then an anonymous volume per image VOLUME. */
export async function resolveMounts(
  d: { volumes: VolumeStore; records: ContainerRecords },
  opts: ParsedCreateOptions,
  imageVolumes: Record<string, object>,
  /** Volumes this create made, for its rollback. */
  createdVolumes: string[],
  /** Where subPath mounts get their staging points (the container's subpaths directory). */
  subPathDir: string,
): Promise<ResolvedMount[]> {
  const mounts: ResolvedMount[] = [];
  const targets = new Set<string>();
  const add = (m: ResolvedMount): void => {
    const t = `/${m.target.split('/').filter(Boolean).join('/')}`;
    if (targets.has(t)) throw invalid(`mounts: duplicate mount point ${t}`);
    targets.add(t);
    mounts.push({ ...m, target: t });
  };
  for (const [i, m] of opts.mounts.entries()) {
    if (m.type === 'bind') {
      if (!(await pathExists(m.source))) throw invalid(`mounts: bind source path does not exist: ${m.source}`);
      add({ type: 'bind', source: m.source, target: m.target, readOnly: m.readOnly ?? false, anonymous: false, ...subPathMount(m.source, m.subPath, i, subPathDir) });
    } else {
      const existed = m.source ? await d.volumes.find(m.source) : undefined;
      const v = await d.volumes.create(m.source);
      if (!existed) createdVolumes.push(v.name);
      add({ type: 'volume', name: v.name, source: v.mountpoint, target: m.target, readOnly: m.readOnly ?? false, anonymous: v.anonymous, ...subPathMount(v.mountpoint, m.subPath, i, subPathDir) });
    }
  }
  for (const vf of opts.volumesFrom) {
    const other = await d.records.resolve(vf.container).catch((e: unknown) => {
      throw e instanceof RuntimeError && e.code === 'NotFound' ? invalid(`volumesFrom: container "${vf.container}" not found`) : e;
    });
    for (const m of other.mounts) {
      if (targets.has(m.target)) continue;
      // a subPath mount gets a staging point of this container's own
      const sub = m.subPathOf ? subPathMount(m.subPathOf.base, m.subPathOf.path, mounts.length, subPathDir) : {};
      add({ ...m, ...sub, readOnly: vf.readOnly ?? m.readOnly, anonymous: false });
    }
  }
  for (const target of Object.keys(imageVolumes)) {
    const t = `/${target.split('/').filter(Boolean).join('/')}`;
    if (targets.has(t)) continue;
    const v = await d.volumes.create(undefined);
    createdVolumes.push(v.name);
    add({ type: 'volume', name: v.name, source: v.mountpoint, target: t, readOnly: false, anonymous: true });
  }
  return mounts;
}

/** A subPath mount's source (its staging point) and origin, checked now so that a bad subPath fails the create. */
function subPathMount(base: string, subPath: string | undefined, index: number, dir: string): Partial<ResolvedMount> {
  if (subPath === undefined || subPath.split('/').every((p) => p === '' || p === '.')) return {};
  checkSubPath(base, subPath, `mounts[${index}].subPath`);
  return { source: join(dir, String(index)), subPathOf: { base, path: subPath } };
}

/**
 * /etc/hostname and /etc/hosts of the container; /etc/resolv.conf: the host's with the host network,
 * the network service's (`net.resolvConf`) on a bridge; a container:NAME joiner uses NAME's hosts and
 * resolv.conf (`net.shared`).
 */
export async function writeEtcFiles(
  dir: string,
  hostname: string,
  network: 'none' | 'host' | 'bridge' | 'container',
  net: { resolvConf?: string; shared?: Array<{ target: string; source: string }> } = {},
): Promise<Array<{ target: string; source: string }>> {
  const files = [
    { target: '/etc/hostname', source: join(dir, 'hostname') },
    { target: '/etc/hosts', source: join(dir, 'hosts') },
  ];
  await writeFile(files[0]!.source, `${hostname}\n`);
  if (net.shared) return [files[0]!, ...net.shared];
  await writeFile(files[1]!.source, `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n`);
  if (network === 'host' && existsSync('/etc/resolv.conf')) {
    const rc = { target: '/etc/resolv.conf', source: join(dir, 'resolv.conf') };
    await copyFile('/etc/resolv.conf', rc.source);
    files.push(rc);
  } else if (net.resolvConf !== undefined) {
    const rc = { target: '/etc/resolv.conf', source: join(dir, 'resolv.conf') };
    await writeFile(rc.source, net.resolvConf);
    files.push(rc);
  }
  return files;
}
