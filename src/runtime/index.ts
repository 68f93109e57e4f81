/**
 * The runtime core's one door: the Runtime and what its users (the agent, the CLI, the registry)
 * may use of it. Nothing outside src/runtime imports a file under it but this one.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildCache } from './build/cache.js';
import { fetchGitContext } from './build/git.js';
import { ContainerChanges } from './containers/changes.js';
import { detectCgroupVersion, type CgroupVersion } from './containers/cgroups.js';
import { crashSweep, type SweepReport } from './containers/crash-sweep.js';
import { ContainerLocks } from './containers/locks.js';
import { ContainerMetadataService } from './containers/metadata.js';
import { ContainerRecords } from './containers/record.js';
import { Runc } from './containers/runc.js';
import { TaskService } from './containers/tasks.js';
import { ContentStore } from './content/store.js';
import { GarbageCollector, type GcResult, type GcRoots } from './gc/collector.js';
import { leasesFor, type LeaseManager } from './gc/leases.js';
import { loadImages, saveImages, type ArchiveFormat, type LoadOptions, type LoadedImage } from './images/archive.js';
import { importRootfsTarball, type ImportOptions } from './images/import.js';
import { ImageStore } from './images/store.js';
import { ContainerNetworking } from './network/containers.js';
import { NetworkService } from './network/service.js';
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
  /** One line per event the runtime reports by itself (a failed background garbage collection); default stderr. */
  log?: (line: string) => void;
  /** Builds may fetch file:// and local-path git repositories (off by default: build/git.ts). */
  gitAllowFileUrls?: boolean;
  /** Networking: where the CNI plugins are (default /usr/lib/cni, /opt/cni/bin), and the host-wide state directory (default /run/berth/network). */
  network?: { pluginDirs?: string[]; hostStateDir?: string };
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
 * running containers. Blobs and unpacked layers are garbage-collected by reference (gc/): after an
 * image is deleted the collector frees what no image, container, build cache entry or lease needs.
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
  readonly leases: LeaseManager;
  /** Networks of this node and the containers' attachments to them (CNI), the embedded DNS. */
  readonly networks: NetworkService;
  private readonly collector: GarbageCollector;
  private readonly buildCache: BuildCache;
  private readonly tmpDir: string;
  private readonly gitAllowFileUrls: boolean;
  private readonly records: ContainerRecords;
  private readonly cgroupParent: string;
  private readonly cgroupVersion: CgroupVersion;
  private readonly log: (line: string) => void;

  constructor(o: RuntimeOptions) {
    this.root = o.root;
    this.gitAllowFileUrls = o.gitAllowFileUrls ?? false;
    this.tmpDir = join(o.root, 'tmp');
    this.leases = leasesFor(o.root);
    this.content = new ContentStore(o.root, this.leases);
    this.snapshots = new SnapshotStore(o.root, { forceCopy: o.forceCopySnapshots, leases: this.leases });
    this.buildCache = new BuildCache(o.root);
    this.images = new ImageStore(o.root, this.content, this.snapshots);
    this.volumes = new VolumeStore(o.root);
    const records = (this.records = new ContainerRecords(o.root));
    const locks = new ContainerLocks();
    const cgroupVersion = (this.cgroupVersion = detectCgroupVersion());
    this.cgroupParent = o.cgroupParent ?? 'berth';
    const log = (this.log = o.log ?? ((line: string) => console.error(line)));
    this.networks = new NetworkService({ root: o.root, ...(o.network?.pluginDirs ? { pluginDirs: o.network.pluginDirs } : {}), ...(o.network?.hostStateDir ? { hostStateDir: o.network.hostStateDir } : {}), log });
    const networking = new ContainerNetworking(this.networks, {
      dirOf: (id) => records.paths(id).dir,
      resolve: (ref) => records.resolve(ref),
      runningPid: async (rec) => {
        const s = await this.tasks.state(rec.id);
        return s.status === 'running' || s.status === 'paused' ? s.pid : undefined;
      },
      specNamespacePath: async (id) => {
        const spec = JSON.parse(await readFile(records.paths(id).spec, 'utf8')) as { linux?: { namespaces?: Array<{ type: string; path?: string }> } };
        const ns = spec.linux?.namespaces?.find((n) => n.type === 'network');
        return ns ? ns.path : null;
      },
    });
    this.tasks = new TaskService({ records, locks, runc: new Runc(join(o.root, 'runc'), 'runc'), snapshots: this.snapshots, cgroupVersion, runtimeBinary: '/usr/sbin/runc', network: networking });
    const containers = new ContainerMetadataService({
      records,
      locks,
      tasks: this.tasks,
      images: this.images,
      snapshots: this.snapshots,
      volumes: this.volumes,
      cgroupParent: o.cgroupParent ?? 'berth',
      cgroupVersion,
      network: networking,
      // a container that outlived its image was the last to need its layers
      onRemoved: (rec) => void this.images.exists(rec.imageId).then((exists) => exists || this.collector.schedule()),
    });
    this.changes = new ContainerChanges({ records, images: this.images, snapshots: this.snapshots, tasks: this.tasks, tmpDir: this.tmpDir });
    this.containers = Object.assign(containers, { commit: this.changes.commit.bind(this.changes) });
    this.images.setUsage((id) => this.containers.usersOfImage(id));
    this.volumes.setUsage((name) => this.containers.usersOfVolume(name));
    this.collector = new GarbageCollector({
      root: o.root,
      content: this.content,
      snapshots: this.snapshots,
      leases: this.leases,
      roots: () => this.gcRoots(),
      onError: (e) => log(`runtime: garbage collection failed: ${(e as Error).message ?? String(e)}`),
    });
    this.images.setOnRemoved(() => this.collector.schedule());
  }

  /** Fetches a build context from git into `dir` (build/git.ts: allowed schemes, `--`, no ext); the commit. */
  fetchGitContext(dir: string, url: string, ref?: string): Promise<string> {
    return fetchGitContext(dir, url, ref, { allowFile: this.gitAllowFileUrls });
  }

  importImage(tarPath: string, opts: ImportOptions = {}): Promise<string> {
    return this.images.withLease('import', () => importRootfsTarball(this.images, this.tmpDir, tarPath, opts));
  }

  saveImages(refs: string[], out: string, format: ArchiveFormat = 'docker-archive'): Promise<void> {
    return saveImages(this.images, this.tmpDir, refs, out, format);
  }

  loadImages(archive: string, opts: LoadOptions = {}): Promise<LoadedImage[]> {
    return this.images.withLease('load', () => loadImages(this.images, archive, opts));
  }

  /**
   * Removes the blobs and unpacked layers that nothing needs: no image (manifest, config, layers), no
   * container (its layers; a writable snapshot's layers), no build cache entry (its layer blob) and no
   * lease. Runs by itself shortly after images are deleted.
   */
  gc(): Promise<GcResult> {
    this.collector.cancel();
    return this.collector.collect();
  }

  /**
   * Ends the runtime's background work (a scheduled or running garbage collection) before its owner stops
   * or its root is removed; containers keep running, and gc() still works.
   */
  async close(): Promise<void> {
    // runc's state of the containers that exited last goes before the runtime does (tasks.ts forget())
    await this.tasks.settled();
    this.tasks.close();
    await this.collector.close();
    await this.networks.close();
  }

  /**
   * After a crash: undoes every network attachment, namespace, lease and port rule that belongs to no
   * container of this runtime any more. Returns what it removed. Only while no create runs (at start).
   */
  async sweepNetworks(): Promise<string[]> {
    // a directory without a record is a create that died half-way: its namespace is nobody's
    return this.networks.sweep(new Set((await this.containers.records.all()).map((r) => r.id)));
  }

  /**
   * The crash sweep (containers/crash-sweep.ts): removes what a process killed at any point left in
   * this root without a live owner (container directories, snapshots, mounts, cgroups, name files,
   * temporary files, stray monitors). Its owner runs it once at start, before anything else.
   */
  async recover(): Promise<SweepReport> {
    return crashSweep({
      root: this.root,
      records: this.records,
      snapshots: this.snapshots,
      images: this.images,
      runc: this.tasks.runc,
      cgroupParent: this.cgroupParent,
      cgroupVersion: this.cgroupVersion,
      state: (rec) => this.tasks.state(rec.id),
      removeContainer: (id) => this.containers.remove(id, { force: true, volumes: true }),
      log: this.log,
    });
  }

  /** docker builder prune: forgets the build cache; the collector then frees what only it kept. */
  async pruneBuildCache(): Promise<{ entries: number; bytes: number }> {
    const entries = await this.buildCache.clear();
    return { entries, bytes: (await this.gc()).bytes };
  }

  private async gcRoots(): Promise<GcRoots> {
    const [blobs, layers, ctrLayers, active, cache] = await Promise.all([
      this.images.referencedBlobs(),
      this.images.referencedLayers(),
      this.containers.referencedLayers(),
      this.snapshots.activeLayers(),
      this.buildCache.referenced(),
    ]);
    for (const d of [...ctrLayers, ...active]) layers.add(d);
    for (const b of cache.blobs) blobs.add(b);
    return { blobs, layers };
  }

  /** docker system df, with what each row could free (RECLAIMABLE). */
  async systemDf(): Promise<DiskUsage> {
    return diskUsage({ images: this.images, snapshots: this.snapshots, containers: this.containers, volumes: this.volumes, content: this.content, roots: () => this.gcRoots(), buildCache: () => this.buildCache.referenced() });
  }
}

export { RuntimeError } from './util/errors.js';
export type { CreateOptions } from './containers/options.js';
export { createdState, type ContainerRecord, type ContainerState } from './containers/record.js';
export type { ContainerSummary, Containers, ListOptions } from './containers/metadata.js';
export type { ContainerStats, ExecOptions, ExecResult, Tasks } from './containers/tasks.js';
export type { Changes, CommitOptions } from './containers/changes.js';
export type { ExitEvent, ExitListener } from './containers/exits.js';
export type { SweepReport } from './containers/crash-sweep.js';
export type { ExecStream, TerminalSize } from './containers/exec-stream.js';
export type { AttachStream } from './containers/attach.js';
export { detectCgroupVersion, type CgroupVersion } from './containers/cgroups.js';
export type { Attachment, AttachRequest, InterfaceCounters, NetworkInfo, NetworkService } from './network/service.js';
export type { NetworkDefinitionInput, ResolvedNetwork } from './network/config.js';
export type { DnsRecord, Upstream } from './network/dns.js';
export type { PortMapping } from './network/ports.js';
export { parseUpstream } from './network/dns.js';
export { CniInvoker, CniPluginError, type CniResult, type NetworkConfigList, type RuntimeConf } from './network/cni.js';
export type { ImageInspect, ImageSummary } from './images/store.js';
export { normaliseImageRef } from './images/reference.js';
export type { VolumeInfo } from './volumes/store.js';
export type { DiskUsage, DiskUsageRow } from './system/df.js';
export type { GcResult } from './gc/collector.js';
// builds
export { Builder } from './build/builder.js';
export { formatBuildEvent } from './build/progress.js';
export { parseConfigChanges } from './build/changes.js';
export { checkGitUrl } from './build/git.js';
export { normaliseTaggedName } from './images/reference.js';
export { applyLayer } from './snapshots/apply-layer.js';
// registry client
export { CredentialStore, Distribution, RegistryClientError, credentialsFromDockerConfig, parseRemoteReference, type Credentials, type LayerProgress } from './distribution/index.js';
export { credentialsPath, nodeDistribution } from './distribution/node.js';
// shared with the registry server (src/registry), which stores blobs as the runtime does
export { ContentStore } from './content/store.js';
export { isNodeError } from './util/errors.js';
export { atomicWriteFile, atomicWriteJson, pathExists, readDirOrEmpty, readJsonIfExists, syncDir } from './util/fs.js';
export { Mutex } from './util/mutex.js';
