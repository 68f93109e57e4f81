/**
 * Changes of a container's writable layer (containerd's diff service, Docker's verbs): diff, export,
 * commit (the changes become a layer of a new image) and cp in and out of its filesystem.
 */
import { lstat, mkdir, rm, stat } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { join } from 'node:path';
import { MEDIA, applyConfigChanges, type ConfigChanges, type ImageConfig } from '../images/schema.js';
import type { ImageStore } from '../images/store.js';
import type { Change } from '../snapshots/diff.js';
import type { SnapshotStore } from '../snapshots/store.js';
import { packDirectory } from '../../util/tar/pack-dir.js';
import { TarWriter } from '../../util/tar/writer.js';
import { randomHexId, sha256OfFile } from '../util/digest.js';
import { conflict, invalid, isNodeError, notFound } from '../util/errors.js';
import { tarEntries } from '../tar/reader.js';
import { StreamSource } from '../tar/stream-source.js';
import { extractIntoRoot, hostBase, hostEntries, openArchiveSource, writeHostEntries, type ArchiveEntry } from './archive.js';
import type { ContainerRecord, ContainerRecords } from './record.js';
import type { Tasks } from './tasks.js';

export interface CommitOptions {
  ref?: string;
  author?: string;
  message?: string;
  changes?: ConfigChanges;
  /** Pause the container while committing (docker commit default). */
  pause?: boolean;
}

/** The changes service's interface: containers are named by ID, unique ID prefix or name. */
export interface Changes {
  diff(ref: string): Promise<Change[]>;
  export(ref: string, out: string): Promise<void>;
  commit(ref: string, o?: CommitOptions): Promise<string>;
  /** docker cp out to a host path: setuid, setgid and ownership dropped unless `archive` (docker cp -a). */
  copyFrom(ref: string, containerPath: string, hostDest: string, o?: { archive?: boolean }): Promise<void>;
  copyTo(ref: string, hostSrc: string, containerPath: string): Promise<void>;
  /** docker cp out as a tar stream (the archive API): NotFound before anything is written; entries keep their owners and modes. */
  archive(ref: string, containerPath: string): Promise<{ name: string; writeTo(out: Writable): Promise<void> }>;
  /** docker cp in from a tar stream (the archive API's PUT). */
  extract(ref: string, containerPath: string, tar: AsyncIterable<Buffer>): Promise<void>;
}

export interface ContainerChangesOptions {
  records: ContainerRecords;
  images: ImageStore;
  snapshots: SnapshotStore;
  tasks: Pick<Tasks, 'state' | 'pause' | 'unpause'>;
  tmpDir: string;
}

/** Created in the rootfs by the runtime, not by the container: diff and commit leave them out. */
const RUNTIME_MOUNT_POINTS: ReadonlySet<string> = new Set(['/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/proc', '/sys', '/dev']);

async function* noData(): AsyncGenerator<Buffer> {}

/** The entries of a tar stream (the archive API's PUT body), each file's data read from the stream before the next entry. */
async function* tarArchiveEntries(tar: AsyncIterable<Buffer>): AsyncGenerator<ArchiveEntry> {
  const src = new StreamSource(tar);
  for await (const e of tarEntries(src)) {
    if (e.type !== 'file' && e.type !== 'dir' && e.type !== 'symlink' && e.type !== 'hardlink') continue; // devices and FIFOs are not copied in
    yield {
      name: e.name,
      type: e.type,
      mode: e.mode,
      uid: e.uid,
      gid: e.gid,
      mtime: e.mtime,
      size: e.size,
      linkname: e.linkname,
      data: async function* () {
        let left = e.size;
        while (left > 0) {
          const c = await src.chunk(Math.min(left, 1 << 16));
          if (c.length === 0) throw invalid(`tar: truncated data for "${e.name}"`);
          left -= c.length;
          yield c;
        }
      },
    };
  }
}

export class ContainerChanges implements Changes {
  constructor(private readonly o: ContainerChangesOptions) {}

  /** The container's root filesystem, mounted again if it is not (after a reboot). */
  private async rootfs(rec: ContainerRecord): Promise<string> {
    return (await this.o.snapshots.prepare(rec.id, rec.diffIDs)).rootfs;
  }

  async copyFrom(ref: string, containerPath: string, hostDest: string, o: { archive?: boolean } = {}): Promise<void> {
    const rec = await this.o.records.resolve(ref);
    const { base, rel } = hostBase(await this.rootfs(rec), rec.mounts, containerPath);
    const src = await openArchiveSource(base, rel);
    await writeHostEntries(src.entries(), src.name, hostDest, o);
  }

  async copyTo(ref: string, hostSrc: string, containerPath: string): Promise<void> {
    await lstat(hostSrc).catch((e: unknown) => {
      throw isNodeError(e, 'ENOENT') ? notFound(`host path "${hostSrc}" does not exist`) : e;
    });
    await this.extractEntries(ref, containerPath, hostEntries(hostSrc));
  }

  async archive(ref: string, containerPath: string): Promise<{ name: string; writeTo(out: Writable): Promise<void> }> {
    const rec = await this.o.records.resolve(ref);
    const { base, rel } = hostBase(await this.rootfs(rec), rec.mounts, containerPath);
    const src = await openArchiveSource(base, rel);
    return {
      name: src.name,
      writeTo: async (out) => {
        const tar = TarWriter.toStream(out);
        for await (const e of src.entries()) {
          const h = { name: e.name, mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime, linkname: e.linkname };
          if (e.type === 'file') await tar.addData(h, e.size, e.data?.() ?? noData());
          else await tar.addEntry({ ...h, type: e.type });
        }
        await tar.close();
      },
    };
  }

  async extract(ref: string, containerPath: string, tar: AsyncIterable<Buffer>): Promise<void> {
    await this.extractEntries(ref, containerPath, tarArchiveEntries(tar));
  }

  private async extractEntries(ref: string, containerPath: string, entries: AsyncIterable<ArchiveEntry>): Promise<void> {
    const rec = await this.o.records.resolve(ref);
    const mount = rec.mounts.find((m) => containerPath === m.target || containerPath.startsWith(`${m.target}/`));
    if (mount?.readOnly) throw conflict(`destination "${containerPath}" is on a read-only mount`);
    if (!mount && rec.options.readOnlyRootfs) throw conflict(`container ${rec.name} has a read-only root filesystem`);
    const { base, rel } = hostBase(await this.rootfs(rec), rec.mounts, containerPath);
    await extractIntoRoot(base, rel, entries);
  }

  async diff(ref: string): Promise<Change[]> {
    const rec = await this.o.records.resolve(ref);
    await this.rootfs(rec);
    return this.o.snapshots.diff(rec.id, { ignoreAdded: RUNTIME_MOUNT_POINTS });
  }

  /** docker export: the flattened rootfs as a tar. */
  async export(ref: string, out: string): Promise<void> {
    const rec = await this.o.records.resolve(ref);
    const rootfs = await this.rootfs(rec);
    const tar = await TarWriter.create(out);
    try {
      await packDirectory(tar, rootfs);
      await tar.close();
    } catch (e) {
      await tar.abort();
      await rm(out, { force: true });
      throw e;
    }
  }

  /** docker commit: the writable layer becomes a new layer on top of the container's image. */
  commit(ref: string, o: CommitOptions = {}): Promise<string> {
    return this.o.images.withLease('commit', () => this.commitLeased(ref, o));
  }

  private async commitLeased(ref: string, o: CommitOptions): Promise<string> {
    const { images, tasks } = this.o;
    const rec = await this.o.records.resolve(ref);
    await this.rootfs(rec);
    const base: ImageConfig = await images.config(rec.imageId);
    const manifest = await images.manifest(rec.imageId);
    const wasRunning = (await tasks.state(rec.id)).status === 'running';
    const doPause = wasRunning && o.pause !== false;
    if (doPause) await tasks.pause(rec.id);
    await mkdir(this.o.tmpDir, { recursive: true });
    const layerPath = join(this.o.tmpDir, `commit-${randomHexId()}.tar`);
    try {
      const tar = await TarWriter.create(layerPath);
      try {
        await this.o.snapshots.packChanges(rec.id, tar, { ignoreAdded: RUNTIME_MOUNT_POINTS });
        await tar.close();
      } catch (e) {
        await tar.abort();
        throw e;
      }
      const diffID = await sha256OfFile(layerPath);
      const digest = await images.content.ingestFile(layerPath, diffID);
      const size = (await stat(layerPath)).size;
      const created = new Date().toISOString();
      const config: ImageConfig = {
        ...base,
        created,
        ...(o.author ? { author: o.author } : {}),
        config: applyConfigChanges(base.config ?? {}, o.changes),
        rootfs: { type: 'layers', diff_ids: [...base.rootfs.diff_ids, diffID] },
        history: [
          ...(base.history ?? []),
          { created, created_by: [rec.path, ...rec.args].join(' '), ...(o.author ? { author: o.author } : {}), ...(o.message ? { comment: o.message } : {}) },
        ],
      };
      return await images.addImage(
        Buffer.from(JSON.stringify(config)),
        [...manifest.layers.map((d, i) => ({ descriptor: d, diffID: base.rootfs.diff_ids[i] as string })), { descriptor: { mediaType: MEDIA.ociLayer, digest, size }, diffID }],
        { names: o.ref ? [o.ref] : [], parent: rec.imageId },
      );
    } finally {
      await rm(layerPath, { force: true });
      if (doPause) await tasks.unpause(rec.id).catch(() => undefined);
    }
  }
}
