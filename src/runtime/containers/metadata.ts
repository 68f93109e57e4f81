/**
 * Container metadata (containerd's container service): the records, names and labels of containers,
 * create (which also prepares the writable snapshot and the OCI bundle), list, get, inspect and
 * remove. The process of a container is the task service's; list and inspect ask it for the state.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { allEnded } from '../../util/all-ended.js';
import type { ImageStore } from '../images/store.js';
import type { ContainerNetworking } from '../network/containers.js';
import { resolveInRoot } from '../snapshots/safe-path.js';
import type { SnapshotStore } from '../snapshots/store.js';
import { randomHexId } from '../util/digest.js';
import { invalid } from '../util/errors.js';
import { pathExists, replaceJson, treeSize } from '../util/fs.js';
import type { VolumeStore } from '../volumes/store.js';
import { cgroupsPathFor, type CgroupVersion } from './cgroups.js';
import { mergeEnv, resolveProcessArgs } from './command.js';
import type { ContainerLocks } from './locks.js';
import { CreateOptionsSchema, type CreateOptions } from './options.js';
import { resolveMounts, writeEtcFiles } from './prepare.js';
import { createdState, type ContainerRecord, type ContainerRecords, type ContainerState } from './record.js';
import { buildSpec } from './spec.js';
import { checkRunAsNonRoot, isolationFor } from '../security/isolation.js';
import { resolveUser, type ResolvedUser } from './user.js';
import { stageSubPathMounts, unstageSubPaths } from '../volumes/subpath.js';

export interface ContainerSummary {
  id: string;
  name: string;
  labels: Record<string, string>;
  image: string;
  imageId: string;
  command: string;
  created: string;
  status: ContainerState['status'];
  /** The init pid while running or paused, else 0. */
  pid: number;
  exitCode: number | undefined;
  oomKilled: boolean;
  restartCount: number;
  startedAt: string | undefined;
  finishedAt: string | undefined;
  sizeRw?: number;
  sizeRootFs?: number;
}

export interface ListOptions {
  /** Exited and created containers too (docker ps -a); without it only running and paused ones. */
  all?: boolean;
  /** Writable layer and virtual sizes (docker ps -s). */
  size?: boolean;
  /** Only containers with every one of these labels: `true` for any value, a string for that value. */
  labels?: Record<string, string | true>;
}

/** The metadata service's interface: containers are named by ID, unique ID prefix or name. */
export interface Containers {
  create(input: CreateOptions): Promise<ContainerRecord>;
  resolve(ref: string): Promise<ContainerRecord>;
  list(opts?: ListOptions): Promise<ContainerSummary[]>;
  inspect(ref: string): Promise<Record<string, unknown>>;
  size(ref: string): Promise<{ sizeRw: number; sizeRootFs: number }>;
  remove(ref: string, opts?: { force?: boolean; volumes?: boolean }): Promise<void>;
  /** docker network connect/disconnect: the networks after the first, joined or left at once when it runs. */
  updateNetworks(ref: string, networks: CreateOptions['networks']): Promise<ContainerRecord>;
}

/** What metadata needs of the task service: both run under the container's lock. */
export interface TaskControl {
  observe(rec: ContainerRecord): Promise<ContainerState>;
  deleteLocked(rec: ContainerRecord, force: boolean): Promise<void>;
}

export interface ContainerMetadataOptions {
  records: ContainerRecords;
  locks: ContainerLocks;
  tasks: TaskControl;
  images: ImageStore;
  snapshots: SnapshotStore;
  volumes: VolumeStore;
  cgroupParent: string;
  cgroupVersion: CgroupVersion;
  /** A container was removed (its layers may now be garbage). */
  onRemoved?: (rec: ContainerRecord) => void;
  /** Network namespaces, attachments and etc files of the containers. */
  network: ContainerNetworking;
}

const live = (s: ContainerState): boolean => s.status === 'running' || s.status === 'paused';

export class ContainerMetadataService implements Containers {
  readonly records: ContainerRecords;
  private readonly imageUsers = new Map<string, ResolvedUser>();
  private readonly locks: ContainerLocks;
  private readonly tasks: TaskControl;
  private readonly images: ImageStore;
  private readonly snapshots: SnapshotStore;
  private readonly volumes: VolumeStore;

  constructor(private readonly o: ContainerMetadataOptions) {
    this.records = o.records;
    this.locks = o.locks;
    this.tasks = o.tasks;
    this.images = o.images;
    this.snapshots = o.snapshots;
    this.volumes = o.volumes;
  }

  async resolve(ref: string): Promise<ContainerRecord> {
    return this.records.resolve(ref);
  }

  private observed(rec: ContainerRecord): Promise<ContainerState> {
    return this.locks.run(rec.id, () => this.tasks.observe(rec));
  }

  /** docker create: resolves image, user, mounts and volumes, prepares the rootfs and writes the OCI bundle. */
  async create(input: CreateOptions): Promise<ContainerRecord> {
    const opts = CreateOptionsSchema.parse(input);
    // refused (unknown capability, no profile) before anything is written
    const isolation = isolationFor(opts.security);
    const image = await this.images.resolve(opts.image);
    const cfg = await this.images.config(image.id);
    const icfg = cfg.config ?? {};
    const id = randomHexId();
    const name = opts.name ?? `berth_${id.slice(0, 12)}`;
    const paths = this.records.paths(id);
    const createdVolumes: string[] = [];
    await mkdir(paths.exitDir, { recursive: true });
    // until the record is written, the name is held by this process: should it die, the name is free
    this.records.markCreating(id);
    try {
      await this.records.names.reserve(name, id);
    } catch (e) {
      await rm(paths.dir, { recursive: true, force: true });
      throw e;
    }
    try {
      const hostname = opts.hostname ?? id.slice(0, 12);
      // the network namespace (or the one joined), then the etc files that depend on it
      const networkAndEtc = (async () => {
        const net = await this.o.network.prepare(id, opts);
        const shared = net.shareEtcFrom ? await this.o.network.sharedEtcFiles(net.shareEtcFrom) : undefined;
        return { net, etc: await writeEtcFiles(paths.dir, hostname, opts.network, { ...(net.resolvConf ? { resolvConf: net.resolvConf } : {}), ...(shared ? { shared } : {}) }) };
      })();
      // independent steps side by side; every one has ended before a failure rolls back
      const [snap, mounts, { net, etc: etcFiles }] = await allEnded([
        this.snapshots.prepare(id, cfg.rootfs.diff_ids),
        resolveMounts({ volumes: this.volumes, records: this.records }, opts, icfg.Volumes ?? {}, createdVolumes, paths.subPaths),
        networkAndEtc,
        mkdir(paths.bundle, { recursive: true }),
      ] as const);
      const args = resolveProcessArgs(icfg, opts.command, opts.args);
      const userSpec = opts.user ?? icfg.User ?? '';
      const user = await this.imageUser(image.id, snap.rootfs, userSpec);
      checkRunAsNonRoot(opts.security, user.uid);
      const env = mergeEnv(icfg.Env, [`HOSTNAME=${hostname}`, `HOME=${user.home}`, ...(opts.tty ? ['TERM=xterm'] : [])], opts.env);
      for (const m of mounts) {
        if (m.type === 'volume' && m.name && !m.subPathOf) await this.volumes.initialise(m.name, await resolveInRoot(snap.rootfs, m.target));
      }
      await stageSubPathMounts(mounts);
      const workingDir = opts.workingDir ?? (icfg.WorkingDir || '/');
      const rec: ContainerRecord = {
        id,
        name,
        created: new Date().toISOString(),
        image: opts.image,
        imageId: image.id,
        diffIDs: cfg.rootfs.diff_ids,
        options: opts,
        mounts,
        path: args[0] as string,
        args: args.slice(1),
        env,
        workingDir,
        user: userSpec,
        hostname,
        cgroupsPath: cgroupsPathFor(this.o.cgroupParent, id),
        stopSignal: opts.stopSignal ?? icfg.StopSignal ?? 'SIGTERM',
        stopTimeoutSeconds: opts.stopTimeoutSeconds ?? 10,
      };
      const spec = buildSpec({
        args,
        env,
        cwd: workingDir,
        user,
        hostname,
        rootfs: snap.rootfs,
        readOnlyRootfs: opts.readOnlyRootfs,
        network: net.namespace,
        cgroupsPath: rec.cgroupsPath,
        mounts,
        etcFiles,
        memoryBytes: opts.resources.memoryBytes,
        swapAccounting: this.o.cgroupVersion === 'v2' || existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes'),
        cpus: opts.resources.cpus,
        pids: opts.resources.pids,
        isolation,
      });
      // docker run -t: runc gives the process a terminal, whose master conmon receives on its console socket
      if (opts.tty) (spec.process as { terminal: boolean }).terminal = true;
      const ensureWorkingDir = async (): Promise<void> => {
        const dir = await resolveInRoot(snap.rootfs, workingDir);
        if (!(await pathExists(dir))) await mkdir(dir, { recursive: true });
      };
      // only the record is fsynced, last: it commits the journal, and with it the renames of the spec and state
      await allEnded([ensureWorkingDir(), replaceJson(paths.spec, spec), this.records.writeState(id, createdState())] as const);
      await this.records.write(rec);
      await rm(paths.creating, { force: true });
      return rec;
    } catch (e) {
      await this.o.network.discard(id).catch(() => undefined);
      // a staging point still mounted would take the volume's files with the directory: leave both to the crash sweep
      if (!(await unstageSubPaths(paths.subPaths).then(() => true, () => false))) throw e;
      await this.snapshots.remove(id).catch(() => undefined);
      await rm(paths.dir, { recursive: true, force: true });
      await this.records.names.release(name, id);
      for (const v of createdVolumes) await this.volumes.remove(v, { force: true }).catch(() => undefined);
      throw e;
    }
  }

  /** A user as a fresh rootfs of an image resolves it: the same for every container of that image, so kept. */
  private async imageUser(imageId: string, rootfs: string, spec: string): Promise<ResolvedUser> {
    const key = `${imageId}\0${spec}`;
    let user = this.imageUsers.get(key);
    if (!user) {
      user = await resolveUser(rootfs, spec);
      if (this.imageUsers.size >= 256) this.imageUsers.clear();
      this.imageUsers.set(key, user);
    }
    return user;
  }

  /** docker rm: refused while running unless forced; `volumes` also removes its anonymous volumes. */
  async remove(ref: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const rec = await this.resolve(ref);
    await this.locks.run(rec.id, async () => {
      await this.tasks.deleteLocked(rec, opts.force ?? false);
      await unstageSubPaths(this.records.paths(rec.id).subPaths);
      await this.o.network.release(rec);
      await this.snapshots.remove(rec.id);
      await rm(this.records.paths(rec.id).dir, { recursive: true, force: true });
      await this.records.names.release(rec.name, rec.id);
      if (opts.volumes) {
        for (const m of rec.mounts) if (m.anonymous && m.name) await this.volumes.remove(m.name, { force: true }).catch(() => undefined);
      }
    });
    this.locks.forget(rec.id);
    this.o.onRemoved?.(rec);
  }

  async updateNetworks(ref: string, input: CreateOptions['networks']): Promise<ContainerRecord> {
    const rec = await this.resolve(ref);
    const networks = CreateOptionsSchema.shape.networks.parse(input);
    if (rec.options.network !== 'bridge') throw invalid(`networks: container ${rec.name} is not on a bridge network (network ${rec.options.network})`);
    if (networks[0]?.name !== rec.options.networks[0]?.name) throw invalid(`networks[0].name: the first network (${rec.options.networks[0]?.name}) changes only with a new container`);
    return this.locks.run(rec.id, async () => {
      const s = await this.tasks.observe(rec);
      let next = networks;
      try {
        if (s.status === 'running' || s.status === 'paused') await this.o.network.updateNetworks(rec, networks);
      } catch (e) {
        // a join or leave that failed half-way: the record says what is attached, so that the next try sees the difference
        const att = await this.o.network.service.attachment(rec.id);
        if (att?.state === 'ready') next = att.networks.map((a) => ({ name: a.name, aliases: a.aliases, ...(a.ipv4Address ? { ipv4Address: a.ipv4Address } : {}) }));
        throw e;
      } finally {
        await this.records.write({ ...rec, options: { ...rec.options, networks: next } });
      }
      return (await this.records.read(rec.id)) ?? rec;
    });
  }

  /** Containers, newest first, with the state of their process; filtered by labels before any state is read. */
  async list(opts: ListOptions = {}): Promise<ContainerSummary[]> {
    const out: ContainerSummary[] = [];
    const want = Object.entries(opts.labels ?? {});
    for (const rec of await this.records.all()) {
      const labels = rec.options.labels;
      if (!want.every(([k, v]) => (v === true ? k in labels : labels[k] === v))) continue;
      const s = await this.observed(rec);
      if (!opts.all && !live(s)) continue;
      const row: ContainerSummary = {
        id: rec.id,
        name: rec.name,
        labels: { ...labels },
        image: rec.image,
        imageId: rec.imageId,
        command: [rec.path, ...rec.args].join(' '),
        created: rec.created,
        status: s.status,
        pid: live(s) ? s.pid : 0,
        exitCode: s.exitCode,
        oomKilled: s.oomKilled,
        restartCount: s.restartCount,
        startedAt: s.startedAt,
        finishedAt: s.finishedAt,
      };
      if (opts.size) Object.assign(row, await this.size(rec.id));
      out.push(row);
    }
    return out.sort((a, b) => b.created.localeCompare(a.created));
  }

  /** docker ps -s: size of the writable layer, and virtual size (writable + image layers). */
  async size(ref: string): Promise<{ sizeRw: number; sizeRootFs: number }> {
    const rec = await this.resolve(ref);
    const sizeRw = await this.snapshots.writableSize(rec.id);
    let image = 0;
    for (const d of rec.diffIDs) image += await this.snapshots.layerSize(d).catch(() => 0);
    return { sizeRw, sizeRootFs: sizeRw + image };
  }

  async inspect(ref: string): Promise<Record<string, unknown>> {
    const rec = await this.resolve(ref);
    const s = await this.observed(rec);
    const snap = await this.snapshots.get(rec.id);
    return {
      Id: rec.id,
      Name: `/${rec.name}`,
      Created: rec.created,
      Path: rec.path,
      Args: rec.args,
      State: {
        Status: s.status,
        Running: live(s),
        Paused: s.status === 'paused',
        OOMKilled: s.oomKilled,
        Pid: s.pid,
        ExitCode: s.exitCode ?? 0,
        Error: s.error ?? '',
        StartedAt: s.startedAt ?? '',
        FinishedAt: s.finishedAt ?? '',
      },
      Image: rec.imageId,
      RestartCount: s.restartCount,
      LogPath: this.records.paths(rec.id).log,
      Config: {
        Hostname: rec.hostname,
        User: rec.user,
        Env: rec.env,
        Cmd: rec.options.args ?? null,
        Entrypoint: rec.options.command ?? null,
        Image: rec.image,
        WorkingDir: rec.workingDir,
        Labels: rec.options.labels,
        StopSignal: rec.stopSignal,
      },
      HostConfig: {
        NetworkMode: rec.options.network === 'container' ? `container:${rec.options.networkContainer ?? ''}` : rec.options.network,
        ReadonlyRootfs: rec.options.readOnlyRootfs,
        Memory: rec.options.resources.memoryBytes ?? 0,
        NanoCpus: Math.round((rec.options.resources.cpus ?? 0) * 1e9),
        PidsLimit: rec.options.resources.pids ?? null,
        CgroupsPath: rec.cgroupsPath,
      },
      NetworkSettings: await this.o.network.inspect(rec),
      Mounts: rec.mounts.map((m) => ({ Type: m.type, Name: m.name, Source: m.source, Destination: m.target, RW: !m.readOnly })),
      GraphDriver: snap
        ? { Name: snap.mode === 'overlay' ? 'overlay2' : 'copy', Data: { LowerDir: snap.lowerdirs.join(':'), UpperDir: snap.upper, MergedDir: snap.rootfs } }
        : undefined,
    };
  }

  // ---------- references (for image/volume removal, GC and df) ----------

  async usersOfImage(imageId: string): Promise<Array<{ id: string; running: boolean }>> {
    const out = [];
    for (const rec of await this.records.all()) {
      if (rec.imageId !== imageId) continue;
      out.push({ id: rec.id, running: live(await this.observed(rec)) });
    }
    return out;
  }

  async usersOfVolume(name: string): Promise<string[]> {
    return (await this.records.all()).filter((r) => r.mounts.some((m) => m.type === 'volume' && m.name === name)).map((r) => r.id);
  }

  /** Layers (diffIDs) the containers' snapshots are made of: GC roots. */
  async referencedLayers(): Promise<Set<string>> {
    const out = new Set<string>();
    for (const rec of await this.records.all()) for (const d of rec.diffIDs) out.add(d);
    return out;
  }

  async writableSizeTotal(): Promise<number> {
    let total = 0;
    for (const id of await this.records.ids()) total += (await treeSize(join(this.records.dir, id))) + (await this.snapshots.writableSize(id));
    return total;
  }
}
