/**
 * A docker-archive tarball (what `docker save` writes and `docker load` reads) of Debian's
 * busybox-static rootfs, built here without any registry: one layer, a config, manifest.json and
 * repositories. Loaded into dockerd, podman and Berth alike for the Docker tests and bench.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { join } from 'node:path';

export const BUSYBOX_ROOTFS_TAR = '/usr/local/share/berth/busybox-rootfs.tar';

export async function busyboxDockerArchive(work: string, tag = 'busybox:latest'): Promise<string> {
  const dir = join(work, 'docker-archive');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const layer = await readFile(BUSYBOX_ROOTFS_TAR);
  const diffId = createHash('sha256').update(layer).digest('hex');
  await mkdir(join(dir, diffId));
  await copyFile(BUSYBOX_ROOTFS_TAR, join(dir, diffId, 'layer.tar'));
  const created = '2026-01-01T00:00:00Z';
  const config = {
    architecture: 'amd64',
    os: 'linux',
    created,
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] },
    rootfs: { type: 'layers', diff_ids: [`sha256:${diffId}`] },
    history: [{ created, created_by: 'busybox-static rootfs (Debian)' }],
  };
  const configJson = Buffer.from(JSON.stringify(config));
  const configId = createHash('sha256').update(configJson).digest('hex');
  await writeFile(join(dir, `${configId}.json`), configJson);
  await writeFile(join(dir, 'manifest.json'), JSON.stringify([{ Config: `${configId}.json`, RepoTags: [tag], Layers: [`${diffId}/layer.tar`] }]));
  const [repo, t] = tag.split(/:(?=[^:/]*$)/) as [string, string];
  await writeFile(join(dir, 'repositories'), JSON.stringify({ [repo]: { [t]: diffId } }));
  const out = join(work, 'busybox-docker-archive.tar');
  execFileSync('tar', ['-C', dir, '--numeric-owner', '-cf', out, '.']);
  await rm(dir, { recursive: true, force: true });
  return out;
}
