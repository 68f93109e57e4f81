import { join } from 'node:path';
import { ContainerService } from './containers/service.js';
import { ContentStore } from './content/store.js';
import { loadImages, saveImages, type ArchiveFormat, type LoadOptions, type LoadedImage } from './images/archive.js';
import { importRootfsTarball, type ImportOptions } from './images/import.js';
import { ImageStore } from './images/store.js';
import { SnapshotStore } from './snapshots/store.js';
import { diskUsage, type DiskUsage } from './system/df.js';
import { VolumeStore } from './volumes/store.js';

export interface RuntimeOptions {
  /** State directory (e.g. /var/lib/berth/runtime). */
  root: string;
  /** Parent cgroup of every container (default "berth"). */
  cgroupParent?: string;
  /** Use the copy snapshotter even where overlayfs works. */
  forceCopySnapshots?: boolean;
}

/**
 * The local runtime core, composed of containerd-like services that share one state root:
 * content (blobs), images, snapshots (layers + writable layers), containers (conmon + runc), volumes.
 * Everything lives on disk, so a new Runtime on the same root adopts running containers.
 */
export class Runtime {
  readonly root: string;
  readonly content: ContentStore;
  readonly snapshots: SnapshotStore;
  readonly images: ImageStore;
  readonly volumes: VolumeStore;
  readonly containers: ContainerService;
  private readonly tmpDir: string;

  constructor(o: RuntimeOptions) {
    this.root = o.root;
    this.tmpDir = join(o.root, 'tmp');
    this.content = new ContentStore(o.root);
    this.snapshots = new SnapshotStore(o.root, { forceCopy: o.forceCopySnapshots });
    this.images = new ImageStore(o.root, this.content, this.snapshots);
    this.volumes = new VolumeStore(o.root);
    this.containers = new ContainerService({ root: o.root, images: this.images, snapshots: this.snapshots, volumes: this.volumes, cgroupParent: o.cgroupParent });
    this.images.setUsage((id) => this.containers.usersOfImage(id));
    this.volumes.setUsage((name) => this.containers.usersOfVolume(name));
  }

  importImage(tarPath: string, opts: ImportOptions = {}): Promise<string> {
    return importRootfsTarball(this.images, this.tmpDir, tarPath, opts);
  }

  saveImages(refs: string[], out: string, format: ArchiveFormat = 'docker-archive'): Promise<void> {
    return saveImages(this.images, this.tmpDir, refs, out, format);
  }

  loadImages(archive: string, opts: LoadOptions = {}): Promise<LoadedImage[]> {
    return loadImages(this.images, archive, opts);
  }

  /** Removes blobs and unpacked layers that no image or container references. */
  async gc(): Promise<{ blobs: string[]; layers: string[]; bytes: number }> {
    const blobs = await this.content.gc(await this.images.referencedBlobs());
    const refs = await this.images.referencedLayers();
    for (const d of await this.containers.referencedLayers()) refs.add(d);
    const layers = await this.snapshots.gc(refs);
    return { blobs: blobs.removed, layers, bytes: blobs.bytes };
  }

  systemDf(): Promise<DiskUsage> {
    return diskUsage(this.images, this.snapshots, this.containers, this.volumes);
  }
}

export { RuntimeError } from './util/errors.js';
export type { CreateOptions } from './containers/options.js';
export type { ContainerState } from './containers/record.js';
export type { ContainerSummary, ExecResult } from './containers/service.js';
export type { ImageInspect, ImageSummary } from './images/store.js';
export type { VolumeInfo } from './volumes/store.js';
export { CredentialStore, Distribution, RegistryClientError, type Credentials, type LayerProgress } from './distribution/index.js';
export { parseConfigChanges } from './build/changes.js';
export { normaliseTaggedName } from './images/reference.js';
