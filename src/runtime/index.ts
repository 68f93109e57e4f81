/**
 * The runtime core's one door: the Runtime and what its users (the agent, the CLI, the registry)
 * may use of it. Nothing outside src/runtime imports a file under it but this one.
 */
import { join } from 'node:path';
import { ContainerChanges } from './containers/changes.js';
import { detectCgroupVersion } from './containers/cgroups.js';
import { ContainerLocks } from './containers/locks.js';
import { ContainerMetadataService } from './containers/metadata.js';
import { ContainerRecords } from './containers/record.js';
import { Runc } from './containers/runc.js';
import { TaskService } from './containers/tasks.js';
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

/** @deprecated src/cli/commands/commit.ts's `runtime.containers.commit` until the CLI's local verbs leave the runtime: use runtime.changes.commit. */
interface LegacyCommit {
  commit: ContainerChanges['commit'];
}

/**
 * The local runtime core, composed of containerd-like services that share one state root:
 * content (blobs), images, snapshots (layers + writable layers), containers (records, names,
 * labels), tasks (their processes, through conmon + runc), changes (diff, commit, export, cp of a
 * writable layer), volumes. Everything lives on disk, so a new Runtime on the same root adopts
 * running containers.
 */
export class Runtime {
  readonly root: string;
  readonly content: ContentStore;
  readonly snapshots: SnapshotStore;
  readonly images: ImageStore;
  readonly volumes: VolumeStore;
  readonly containers: ContainerMetadataService & LegacyCommit;
  readonly tasks: TaskService;
  readonly changes: ContainerChanges;
  private readonly tmpDir: string;

  constructor(o: RuntimeOptions) {
    this.root = o.root;
    this.tmpDir = join(o.root, 'tmp');
    this.content = new ContentStore(o.root);
    this.snapshots = new SnapshotStore(o.root, { forceCopy: o.forceCopySnapshots });
    this.images = new ImageStore(o.root, this.content, this.snapshots);
    this.volumes = new VolumeStore(o.root);
    const records = new ContainerRecords(o.root);
    const locks = new ContainerLocks();
    const cgroupVersion = detectCgroupVersion();
    this.tasks = new TaskService({ records, locks, runc: new Runc(join(o.root, 'runc'), 'runc'), snapshots: this.snapshots, cgroupVersion, runtimeBinary: '/usr/sbin/runc' });
    const containers = new ContainerMetadataService({
      records,
      locks,
      tasks: this.tasks,
      images: this.images,
      snapshots: this.snapshots,
      volumes: this.volumes,
      cgroupParent: o.cgroupParent ?? 'berth',
      cgroupVersion,
    });
    this.changes = new ContainerChanges({ records, images: this.images, snapshots: this.snapshots, tasks: this.tasks, tmpDir: this.tmpDir });
    this.containers = Object.assign(containers, { commit: this.changes.commit.bind(this.changes) });
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
export { createdState, type ContainerRecord, type ContainerState } from './containers/record.js';
export type { ContainerSummary, Containers, ListOptions } from './containers/metadata.js';
export type { ContainerStats, ExecOptions, ExecResult, Tasks } from './containers/tasks.js';
export type { Changes, CommitOptions } from './containers/changes.js';
export type { ExitEvent, ExitListener } from './containers/exits.js';
export type { ExecStream, TerminalSize } from './containers/exec-stream.js';
export { detectCgroupVersion, type CgroupVersion } from './containers/cgroups.js';
export type { ImageInspect, ImageSummary } from './images/store.js';
export type { VolumeInfo } from './volumes/store.js';
export type { DiskUsage } from './system/df.js';
// builds
export { Builder } from './build/builder.js';
export { formatBuildEvent } from './build/progress.js';
export { parseConfigChanges } from './build/changes.js';
export { applyLayer } from './snapshots/apply-layer.js';
// registry client
export { Distribution, credentialsFromDockerConfig, parseRemoteReference, type Credentials } from './distribution/index.js';
export { credentialsPath, nodeDistribution } from './distribution/node.js';
// shared with the registry server (src/registry), which stores blobs as the runtime does
export { ContentStore } from './content/store.js';
export { isNodeError } from './util/errors.js';
export { atomicWriteFile, atomicWriteJson, pathExists, readDirOrEmpty, readJsonIfExists, syncDir } from './util/fs.js';
export { Mutex } from './util/mutex.js';
