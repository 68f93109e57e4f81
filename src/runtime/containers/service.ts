import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { allEnded } from '../../util/all-ended.js';
import type { ImageStore } from '../images/store.js';
import { applyConfigChanges, type ConfigChanges, type ImageConfig } from '../images/schema.js';
import type { Change } from '../snapshots/diff.js';
import { resolveInRoot } from '../snapshots/safe-path.js';
import type { SnapshotStore } from '../snapshots/store.js';
import { packDirectory } from '../tar/pack-dir.js';
import { TarWriter } from '../tar/writer.js';
import { randomHexId, sha256OfFile } from '../util/digest.js';
import { conflict, failed, invalid, RuntimeError } from '../util/errors.js';
import { pathExists, replaceJson, treeSize } from '../util/fs.js';
import { Mutex } from '../util/mutex.js';
import type { VolumeStore } from '../volumes/store.js';
import { Cgroup, cgroupsPathFor, detectCgroupVersion, type CgroupStats, type CgroupVersion } from './cgroups.js';
import { mergeEnv, resolveProcessArgs } from './command.js';
import { launchConmon } from './conmon.js';
import { copyIn, copyOut, hostBase } from './copy.js';
import { readLogs, type LogLine, type LogOptions } from './logs.js';
import { CreateOptionsSchema, type CreateOptions, type ResolvedMount } from './options.js';
import { ContainerRecords, createdState, type ContainerRecord, type ContainerState } from './record.js';
import { Runc } from './runc.js';
import { buildSpec, processSpec } from './spec.js';
import { collectExec, launchExec, type ExecStream, type TerminalSize } from './exec-stream.js';
import { describeProcesses, type TopProcess } from './top.js';
import { resolveUser, type ResolvedUser } from './user.js';
import { MEDIA } from '../images/schema.js';

export interface ContainerServiceOptions {
  root: string;
  images: ImageStore;
  snapshots: SnapshotStore;
  volumes: VolumeStore;
  /** Parent cgroup for all containers of this runtime (default "berth"). */
  cgroupParent?: string;
  runtimeBinary?: string;
}

export interface ExecOptions {
  cmd: string[];
  env?: string[];
  user?: string;
  workingDir?: string;
  /** Run in a terminal of this size (docker exec -t). */
  tty?: TerminalSize;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface ContainerSummary {
  id: string;
  name: string;
  image: string;
  imageId: string;
  command: string;
  created: string;
  status: ContainerState['status'];
  exitCode: number | undefined;
  sizeRw?: number;
  sizeRootFs?: number;
}

export interface ContainerStats extends CgroupStats {
  id: string;
  /** Seconds of CPU used since start (cpuUsageNs / 1e9). */
  cpuSeconds: number;
}

export interface CommitOptions {
  ref?: string;
  author?: string;
  message?: string;
  changes?: ConfigChanges;
  /** Pause the container while committing (docker commit default). */
  pause?: boolean;
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Created in the rootfs by the runtime, not by the container: diff and commit leave them out. */
const RUNTIME_MOUNT_POINTS: ReadonlySet<string> = new Set(['/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/proc', '/sys', '/dev']);

/** Containers on conmon + runc; all state lives under <root>/containers so a new instance adopts running containers. */
export class ContainerService {
  readonly records: ContainerRecords;
  readonly runc: Runc;
  readonly cgroupVersion: CgroupVersion;
  private readonly locks = new Map<string, Mutex>();
  private readonly imageUsers = new Map<string, ResolvedUser>();
  private readonly images: ImageStore;
  private readonly snapshots: SnapshotStore;
  private readonly volumes: VolumeStore;
  private readonly cgroupParent: string;
  private readonly runtimeBinary: string;
  private readonly tmpDir: string;

  constructor(o: ContainerServiceOptions) {
    this.records = new ContainerRecords(o.root);
    this.runc = new Runc(join(o.root, 'runc'), o.runtimeBinary ?? 'runc');
    this.images = o.images;
    this.snapshots = o.snapshots;
    this.volumes = o.volumes;
    this.cgroupParent = o.cgroupParent ?? 'berth';
    this.runtimeBinary = o.runtimeBinary ?? '/usr/sbin/runc';
    this.tmpDir = join(o.root, 'tmp');
    this.cgroupVersion = detectCgroupVersion();
  }

  private lock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    let m = this.locks.get(id);
    if (!m) this.locks.set(id, (m = new Mutex()));
    return m.run(fn);
  }

  cgroup(rec: ContainerRecord): Cgroup {
    return new Cgroup(this.cgroupVersion, rec.cgroupsPath);
  }

  async resolve(ref: string): Promise<ContainerRecord> {
    return this.records.resolve(ref);
  }

  // ---------- create ----------

  /** docker create: resolves image, user, mounts and volumes, prepares the rootfs and writes the OCI bundle. */
  async create(input: CreateOptions): Promise<ContainerRecord> {
    const opts = CreateOptionsSchema.parse(input);
    const image = await this.images.resolve(opts.image);
    const cfg = await this.images.config(image.id);
    const icfg = cfg.config ?? {};
    const id = randomHexId();
    const name = opts.name ?? `berth_${id.slice(0, 12)}`;
    const paths = this.records.paths(id);
    const createdVolumes: string[] = [];
    await mkdir(paths.exitDir, { recursive: true });
    try {
      await this.records.names.reserve(name, id);
    } catch (e) {
      await rm(paths.dir, { recursive: true, force: true });
      throw e;
    }
    try {
      const hostname = opts.hostname ?? id.slice(0, 12);
      // independent steps side by side; every one has ended before a failure rolls back
      const [snap, mounts, etcFiles] = await allEnded([
        this.snapshots.prepare(id, cfg.rootfs.diff_ids),
        this.resolveMounts(opts, icfg.Volumes ?? {}, createdVolumes),
        this.writeEtcFiles(paths.dir, hostname, opts.network),
        mkdir(paths.bundle, { recursive: true }),
      ] as const);
      const args = resolveProcessArgs(icfg, opts.command, opts.args);
      const userSpec = opts.user ?? icfg.User ?? '';
      const user = await this.imageUser(image.id, snap.rootfs, userSpec);
      const env = mergeEnv(icfg.Env, [`HOSTNAME=${hostname}`, `HOME=${user.home}`], opts.env);
      for (const m of mounts) {
        if (m.type === 'volume' && m.name) await this.volumes.initialise(m.name, await resolveInRoot(snap.rootfs, m.target));
      }
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
        cgroupsPath: cgroupsPathFor(this.cgroupParent, id),
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
        network: opts.network,
        cgroupsPath: rec.cgroupsPath,
        mounts,
        etcFiles,
        memoryBytes: opts.resources.memoryBytes,
        swapAccounting: this.cgroupVersion === 'v2' || existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes'),
        cpus: opts.resources.cpus,
        pids: opts.resources.pids,
      });
      const ensureWorkingDir = async (): Promise<void> => {
        const dir = await resolveInRoot(snap.rootfs, workingDir);
        if (!(await pathExists(dir))) await mkdir(dir, { recursive: true });
      };
      // only the record is fsynced, last: it commits the journal, and with it the renames of the spec and state
      await allEnded([ensureWorkingDir(), replaceJson(paths.spec, spec), this.records.writeState(id, createdState())] as const);
      await this.records.write(rec);
      return rec;
    } catch (e) {
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

  private async resolveMounts(
    opts: ReturnType<typeof CreateOptionsSchema.parse>,
    imageVolumes: Record<string, object>,
    createdVolumes: string[],
  ): Promise<ResolvedMount[]> {
    const mounts: ResolvedMount[] = [];
    const targets = new Set<string>();
    const add = (m: ResolvedMount): void => {
      const t = `/${m.target.split('/').filter(Boolean).join('/')}`;
      if (targets.has(t)) throw invalid(`mounts: duplicate mount point ${t}`);
      targets.add(t);
      mounts.push({ ...m, target: t });
    };
    for (const m of opts.mounts) {
      if (m.type === 'bind') {
        if (!(await pathExists(m.source))) throw invalid(`mounts: bind source path does not exist: ${m.source}`);
        add({ type: 'bind', source: m.source, target: m.target, readOnly: m.readOnly ?? false, anonymous: false });
      } else {
        const existed = m.source ? await this.volumes.find(m.source) : undefined;
        const v = await this.volumes.create(m.source);
        if (!existed) createdVolumes.push(v.name);
        add({ type: 'volume', name: v.name, source: v.mountpoint, target: m.target, readOnly: m.readOnly ?? false, anonymous: v.anonymous });
      }
    }
    for (const vf of opts.volumesFrom) {
      const other = await this.records.resolve(vf.container).catch((e: unknown) => {
        throw e instanceof RuntimeError && e.code === 'NotFound' ? invalid(`volumesFrom: container "${vf.container}" not found`) : e;
      });
      for (const m of other.mounts) {
        if (!targets.has(m.target)) add({ ...m, readOnly: vf.readOnly ?? m.readOnly, anonymous: false });
      }
    }
    for (const target of Object.keys(imageVolumes)) {
      const t = `/${target.split('/').filter(Boolean).join('/')}`;
      if (targets.has(t)) continue;
      const v = await this.volumes.create(undefined);
      createdVolumes.push(v.name);
      add({ type: 'volume', name: v.name, source: v.mountpoint, target: t, readOnly: false, anonymous: true });
    }
    return mounts;
  }

  private async writeEtcFiles(dir: string, hostname: string, network: 'none' | 'host'): Promise<Array<{ target: string; source: string }>> {
    const files = [
      { target: '/etc/hostname', source: join(dir, 'hostname') },
      { target: '/etc/hosts', source: join(dir, 'hosts') },
    ];
    await writeFile(files[0]!.source, `${hostname}\n`);
    await writeFile(files[1]!.source, `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n`);
    if (network === 'host' && existsSync('/etc/resolv.conf')) {
      const rc = { target: '/etc/resolv.conf', source: join(dir, 'resolv.conf') };
      await copyFile('/etc/resolv.conf', rc.source);
      files.push(rc);
    }
    return files;
  }

  // ---------- state ----------

  /** Reconciles state.json with what conmon and runc report (exit file, runc state). */
  private async observe(rec: ContainerRecord): Promise<ContainerState> {
    const paths = this.records.paths(rec.id);
    const s = await this.records.readState(rec.id);
    if (s.status !== 'running' && s.status !== 'paused') return s;
    let exitText: string | undefined;
    try {
      exitText = await readFile(paths.exitFile, 'utf8');
    } catch {
      exitText = undefined;
    }
    if (exitText === undefined) {
      // conmon writes the exit file when the container ends, then ends itself: while this container's conmon
      // runs and there is no exit file, the state is as recorded, without spawning `runc state` to ask
      if (await monitorRunning(s.conmonPid, rec.id)) return s;
      const rs = await this.runc.state(rec.id);
      if (rs && (rs.status === 'running' || rs.status === 'paused' || rs.status === 'created')) {
        const status = rs.status === 'paused' ? 'paused' : 'running';
        if (status !== s.status) {
          s.status = status;
          await this.records.writeState(rec.id, s);
        }
        return s;
      }
      if (rs?.status !== 'stopped' && conmonAlive(s.conmonPid)) return s; // conmon is about to write the exit file
      if (conmonAlive(s.conmonPid)) {
        await delay(50);
        exitText = await readFile(paths.exitFile, 'utf8').catch(() => undefined);
        if (exitText === undefined) return s;
      }
    }
    const finished = exitText !== undefined ? (await stat(paths.exitFile)).mtime.toISOString() : new Date().toISOString();
    const code = exitText !== undefined && exitText.trim() !== '' ? Number(exitText.trim()) : -1;
    const oom = paths.oomFiles.some((f) => existsSync(f)) || (await this.cgroup(rec).oomKills()) > 0;
    const next: ContainerState = {
      ...s,
      status: 'exited',
      pid: 0,
      exitCode: Number.isFinite(code) ? code : -1,
      finishedAt: finished,
      oomKilled: oom,
      ...(exitText === undefined ? { error: 'container monitor disappeared without an exit code' } : {}),
    };
    await this.records.writeState(rec.id, next);
    await this.runc.delete(rec.id).catch(() => undefined);
    await this.cgroup(rec).remove();
    return next;
  }

  async state(ref: string): Promise<ContainerState> {
    const rec = await this.resolve(ref);
    return this.lock(rec.id, () => this.observe(rec));
  }

  // ---------- lifecycle ----------

  /**
   * docker start. `onLaunched` is called once conmon runs and runc is creating the container: the tens of
   * milliseconds until it runs are the caller's to use for other work.
   */
  async start(ref: string, opts: { onLaunched?: () => void } = {}): Promise<ContainerState> {
    const rec = await this.resolve(ref);
    return this.lock(rec.id, () => this.startLocked(rec, opts.onLaunched));
  }

  private async startLocked(rec: ContainerRecord, onLaunched?: () => void): Promise<ContainerState> {
    const s = await this.observe(rec);
    if (s.status === 'running') return s;
    if (s.status === 'paused') throw conflict(`container ${rec.name} is paused; unpause it instead`);
    const paths = this.records.paths(rec.id);
    // re-mounts the rootfs only when it is gone (after a reboot); a created container's rootfs is already mounted
    if (!(await this.snapshots.isMounted(rec.id))) await this.snapshots.prepare(rec.id, rec.diffIDs);
    await this.runc.delete(rec.id).catch(() => undefined);
    await Promise.all([paths.exitFile, paths.initPid, paths.conmonPid, ...paths.oomFiles].map((f) => rm(f, { force: true })));
    await mkdir(paths.exitDir, { recursive: true });
    let pid: number;
    try {
      pid = await launchConmon({
        id: rec.id,
        bundle: paths.bundle,
        runcRoot: this.runc.root,
        runtime: this.runtimeBinary,
        logPath: paths.log,
        exitDir: paths.exitDir,
        socketDir: paths.dir,
        conmonPidFile: paths.conmonPid,
        containerPidFile: paths.initPid,
        onSpawned: onLaunched,
      });
      await this.runc.start(rec.id, pid);
    } catch (e) {
      await this.cleanupFailedStart(rec);
      const msg = e instanceof Error ? e.message : String(e);
      await this.records.writeState(rec.id, { ...s, status: s.status === 'exited' ? 'exited' : 'created', exitCode: 127, error: msg });
      throw e instanceof RuntimeError ? e : failed(msg);
    }
    const conmonPid = Number((await readFile(paths.conmonPid, 'utf8').catch(() => '0')).trim());
    const next: ContainerState = {
      status: 'running',
      pid,
      conmonPid,
      startedAt: new Date().toISOString(),
      oomKilled: false,
      restartCount: s.restartCount,
    };
    await this.records.writeState(rec.id, next);
    return next;
  }

  private async cleanupFailedStart(rec: ContainerRecord): Promise<void> {
    const paths = this.records.paths(rec.id);
    const rs = await this.runc.state(rec.id);
    if (rs && rs.status !== 'stopped') await this.runc.kill(rec.id, 'KILL', true).catch(() => undefined);
    await this.runc.delete(rec.id).catch(() => undefined);
    const conmonPid = Number((await readFile(paths.conmonPid, 'utf8').catch(() => '0')).trim());
    for (let i = 0; i < 50 && conmonAlive(conmonPid); i++) await delay(20);
    if (conmonAlive(conmonPid)) process.kill(conmonPid, 'SIGKILL');
    await this.cgroup(rec).remove();
  }

  /** Waits for the container to exit, up to `timeoutMs` (undefined: forever). Returns the observed state. */
  private async waitExit(rec: ContainerRecord, timeoutMs?: number, signal?: AbortSignal): Promise<ContainerState> {
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    for (;;) {
      const s = await this.observe(rec);
      if (s.status === 'exited' || s.status === 'created' || Date.now() >= deadline || signal?.aborted) return s;
      await delay(50);
    }
  }

  /** docker stop: the stop signal, then SIGKILL after the grace period. */
  async stop(ref: string, timeoutSeconds?: number): Promise<ContainerState> {
    const rec = await this.resolve(ref);
    return this.lock(rec.id, () => this.stopLocked(rec, timeoutSeconds ?? rec.stopTimeoutSeconds));
  }

  private async stopLocked(rec: ContainerRecord, timeoutSeconds: number): Promise<ContainerState> {
    const s = await this.observe(rec);
    if (s.status !== 'running' && s.status !== 'paused') return s;
    await this.runc.kill(rec.id, rec.stopSignal).catch(() => undefined);
    if (s.status === 'paused') await this.runc.resume(rec.id).catch(() => undefined);
    let after = await this.waitExit(rec, timeoutSeconds * 1000);
    if (after.status === 'exited') return after;
    await this.runc.kill(rec.id, 'KILL', true).catch(() => undefined);
    after = await this.waitExit(rec, 30_000);
    if (after.status !== 'exited') throw failed(`container ${rec.name} did not stop after SIGKILL`);
    return after;
  }

  async kill(ref: string, signal = 'KILL'): Promise<void> {
    const rec = await this.resolve(ref);
    await this.lock(rec.id, async () => {
      const s = await this.observe(rec);
      if (s.status !== 'running' && s.status !== 'paused') throw conflict(`container ${rec.name} is not running`);
      await this.runc.kill(rec.id, signal);
      if (s.status === 'paused' && /^(SIG)?KILL$|^9$/.test(signal)) await this.runc.resume(rec.id).catch(() => undefined);
    });
  }

  async restart(ref: string, timeoutSeconds?: number): Promise<ContainerState> {
    const rec = await this.resolve(ref);
    return this.lock(rec.id, async () => {
      const stopped = await this.stopLocked(rec, timeoutSeconds ?? rec.stopTimeoutSeconds);
      await this.records.writeState(rec.id, { ...stopped, restartCount: stopped.restartCount + 1 });
      return this.startLocked(rec);
    });
  }

  async pause(ref: string): Promise<void> {
    const rec = await this.resolve(ref);
    await this.lock(rec.id, async () => {
      const s = await this.observe(rec);
      if (s.status !== 'running') throw conflict(`container ${rec.name} is not running`);
      await this.runc.pause(rec.id);
      await this.records.writeState(rec.id, { ...s, status: 'paused' });
    });
  }

  async unpause(ref: string): Promise<void> {
    const rec = await this.resolve(ref);
    await this.lock(rec.id, async () => {
      const s = await this.observe(rec);
      if (s.status !== 'paused') throw conflict(`container ${rec.name} is not paused`);
      await this.runc.resume(rec.id);
      await this.records.writeState(rec.id, { ...s, status: 'running' });
    });
  }

  /** docker wait: blocks until the container exits and returns its exit code. */
  async wait(ref: string, signal?: AbortSignal): Promise<number> {
    const rec = await this.resolve(ref);
    for (;;) {
      const s = await this.lock(rec.id, () => this.observe(rec));
      if (s.status === 'exited') return s.exitCode ?? -1;
      if (signal?.aborted) throw failed('wait aborted');
      await delay(100);
    }
  }

  /** docker rm: refused while running unless forced; `volumes` also removes its anonymous volumes. */
  async remove(ref: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const rec = await this.resolve(ref);
    await this.lock(rec.id, async () => {
      const s = await this.observe(rec);
      if (s.status === 'running' || s.status === 'paused') {
        if (!opts.force) throw conflict(`cannot remove running container ${rec.name}: stop it first or force removal`);
        await this.runc.kill(rec.id, 'KILL', true).catch(() => undefined);
        if (s.status === 'paused') await this.runc.resume(rec.id).catch(() => undefined);
        const after = await this.waitExit(rec, 30_000);
        if (after.status !== 'exited') throw failed(`container ${rec.name} did not die`);
      }
      await this.runc.delete(rec.id).catch(() => undefined);
      await this.cgroup(rec).remove();
      await this.snapshots.remove(rec.id);
      await rm(this.records.paths(rec.id).dir, { recursive: true, force: true });
      await this.records.names.release(rec.name, rec.id);
      if (opts.volumes) {
        for (const m of rec.mounts) if (m.anonymous && m.name) await this.volumes.remove(m.name, { force: true }).catch(() => undefined);
      }
    });
    this.locks.delete(rec.id);
  }

  // ---------- observation ----------

  async list(opts: { all?: boolean; size?: boolean } = {}): Promise<ContainerSummary[]> {
    const out: ContainerSummary[] = [];
    for (const rec of await this.records.all()) {
      const s = await this.lock(rec.id, () => this.observe(rec));
      if (!opts.all && s.status !== 'running' && s.status !== 'paused') continue;
      const row: ContainerSummary = {
        id: rec.id,
        name: rec.name,
        image: rec.image,
        imageId: rec.imageId,
        command: [rec.path, ...rec.args].join(' '),
        created: rec.created,
        status: s.status,
        exitCode: s.exitCode,
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
    const s = await this.lock(rec.id, () => this.observe(rec));
    const snap = await this.snapshots.get(rec.id);
    return {
      Id: rec.id,
      Name: `/${rec.name}`,
      Created: rec.created,
      Path: rec.path,
      Args: rec.args,
      State: {
        Status: s.status,
        Running: s.status === 'running' || s.status === 'paused',
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
        NetworkMode: rec.options.network,
        ReadonlyRootfs: rec.options.readOnlyRootfs,
        Memory: rec.options.resources.memoryBytes ?? 0,
        NanoCpus: Math.round((rec.options.resources.cpus ?? 0) * 1e9),
        PidsLimit: rec.options.resources.pids ?? null,
        CgroupsPath: rec.cgroupsPath,
      },
      Mounts: rec.mounts.map((m) => ({ Type: m.type, Name: m.name, Source: m.source, Destination: m.target, RW: !m.readOnly })),
      GraphDriver: snap
        ? { Name: snap.mode === 'overlay' ? 'overlay2' : 'copy', Data: { LowerDir: snap.lowerdirs.join(':'), UpperDir: snap.upper, MergedDir: snap.rootfs } }
        : undefined,
    };
  }

  async *logs(ref: string, opts: LogOptions = {}, signal?: AbortSignal): AsyncGenerator<LogLine> {
    const rec = await this.resolve(ref);
    const done = async (): Promise<boolean> => {
      const s = await this.lock(rec.id, () => this.observe(rec));
      return s.status !== 'running' && s.status !== 'paused';
    };
    yield* readLogs(this.records.paths(rec.id).log, opts, done, signal);
  }

  /** docker exec, buffered: `input` as stdin, the output collected. */
  async exec(ref: string, o: ExecOptions & { input?: string }): Promise<ExecResult> {
    return collectExec(await this.execStream(ref, o), o.input);
  }

  /** docker exec with streams: a tty, resize, stdin as it comes (what exec through the API serves). */
  async execStream(ref: string, o: ExecOptions): Promise<ExecStream> {
    const rec = await this.resolve(ref);
    const s = await this.lock(rec.id, () => this.observe(rec));
    if (s.status !== 'running') throw conflict(`container ${rec.name} is not running`);
    if (o.cmd.length === 0) throw invalid('cmd: exec needs a command');
    const snap = await this.snapshots.get(rec.id);
    const user = await resolveUser(snap?.rootfs ?? '/nonexistent', o.user ?? rec.user);
    // docker exec -t sets TERM when the container's environment has none
    const env = mergeEnv(o.tty ? ['TERM=xterm'] : [], rec.env, o.env);
    const proc = { ...processSpec(o.cmd, env, o.workingDir ?? rec.workingDir, user), terminal: o.tty !== undefined };
    const paths = this.records.paths(rec.id);
    await mkdir(paths.execDir, { recursive: true });
    const base = join(paths.execDir, randomHexId().slice(0, 16));
    await writeFile(`${base}.json`, JSON.stringify(proc));
    return launchExec({
      runc: this.runc.binary,
      args: this.runc.execArgs(rec.id, `${base}.json`, `${base}.pid`),
      pidFile: `${base}.pid`,
      cleanup: [`${base}.json`],
      ...(o.tty ? { tty: o.tty } : {}),
    });
  }

  async top(ref: string): Promise<TopProcess[]> {
    const rec = await this.resolve(ref);
    const s = await this.lock(rec.id, () => this.observe(rec));
    if (s.status !== 'running' && s.status !== 'paused') throw conflict(`container ${rec.name} is not running`);
    return describeProcesses(await this.cgroup(rec).pids());
  }

  async stats(ref: string): Promise<ContainerStats> {
    const rec = await this.resolve(ref);
    const s = await this.lock(rec.id, () => this.observe(rec));
    if (s.status !== 'running' && s.status !== 'paused') throw conflict(`container ${rec.name} is not running`);
    const st = await this.cgroup(rec).stats();
    return { id: rec.id, ...st, cpuSeconds: st.cpuUsageNs / 1e9 };
  }

  // ---------- filesystem ----------

  private async rootfs(rec: ContainerRecord): Promise<string> {
    return (await this.snapshots.prepare(rec.id, rec.diffIDs)).rootfs;
  }

  async copyFrom(ref: string, containerPath: string, hostDest: string): Promise<void> {
    const rec = await this.resolve(ref);
    const { base, rel } = hostBase(await this.rootfs(rec), rec.mounts, containerPath);
    await copyOut(base, rel, hostDest);
  }

  async copyTo(ref: string, hostSrc: string, containerPath: string): Promise<void> {
    const rec = await this.resolve(ref);
    const mount = rec.mounts.find((m) => containerPath === m.target || containerPath.startsWith(`${m.target}/`));
    if (mount?.readOnly) throw conflict(`destination "${containerPath}" is on a read-only mount`);
    if (!mount && rec.options.readOnlyRootfs) throw conflict(`container ${rec.name} has a read-only root filesystem`);
    const { base, rel } = hostBase(await this.rootfs(rec), rec.mounts, containerPath);
    await copyIn(hostSrc, base, rel);
  }

  async diff(ref: string): Promise<Change[]> {
    const rec = await this.resolve(ref);
    await this.rootfs(rec);
    return this.snapshots.diff(rec.id, { ignoreAdded: RUNTIME_MOUNT_POINTS });
  }

  /** docker export: the flattened rootfs as a tar. */
  async export(ref: string, out: string): Promise<void> {
    const rec = await this.resolve(ref);
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
  async commit(ref: string, o: CommitOptions = {}): Promise<string> {
    const rec = await this.resolve(ref);
    await this.rootfs(rec);
    const base: ImageConfig = await this.images.config(rec.imageId);
    const manifest = await this.images.manifest(rec.imageId);
    const wasRunning = (await this.state(rec.id)).status === 'running';
    const doPause = wasRunning && o.pause !== false;
    if (doPause) await this.pause(rec.id);
    await mkdir(this.tmpDir, { recursive: true });
    const layerPath = join(this.tmpDir, `commit-${randomHexId()}.tar`);
    try {
      const tar = await TarWriter.create(layerPath);
      try {
        await this.snapshots.packChanges(rec.id, tar, { ignoreAdded: RUNTIME_MOUNT_POINTS });
        await tar.close();
      } catch (e) {
        await tar.abort();
        throw e;
      }
      const diffID = await sha256OfFile(layerPath);
      const digest = await this.images.content.ingestFile(layerPath, diffID);
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
      return await this.images.addImage(
        Buffer.from(JSON.stringify(config)),
        [...manifest.layers.map((d, i) => ({ descriptor: d, diffID: base.rootfs.diff_ids[i] as string })), { descriptor: { mediaType: MEDIA.ociLayer, digest, size }, diffID }],
        { names: o.ref ? [o.ref] : [], parent: rec.imageId },
      );
    } finally {
      await rm(layerPath, { force: true });
      if (doPause) await this.unpause(rec.id).catch(() => undefined);
    }
  }

  // ---------- references (for image/volume removal and GC) ----------

  async usersOfImage(imageId: string): Promise<Array<{ id: string; running: boolean }>> {
    const out = [];
    for (const rec of await this.records.all()) {
      if (rec.imageId !== imageId) continue;
      const s = await this.lock(rec.id, () => this.observe(rec));
      out.push({ id: rec.id, running: s.status === 'running' || s.status === 'paused' });
    }
    return out;
  }

  async usersOfVolume(name: string): Promise<string[]> {
    return (await this.records.all()).filter((r) => r.mounts.some((m) => m.type === 'volume' && m.name === name)).map((r) => r.id);
  }

  async referencedLayers(): Promise<Set<string>> {
    const out = new Set<string>();
    for (const rec of await this.records.all()) for (const d of rec.diffIDs) out.add(d);
    return out;
  }

  async writableSizeTotal(): Promise<number> {
    let total = 0;
    for (const id of await this.records.ids()) total += await treeSize(join(this.records.dir, id)) + (await this.snapshots.writableSize(id));
    return total;
  }
}

/** Whether `pid` is still the conmon of container `id` (not a process that got its pid later). */
async function monitorRunning(pid: number, id: string): Promise<boolean> {
  if (!pid) return false;
  const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
  return basename(argv[0] ?? '') === 'conmon' && argv.includes(id);
}

function conmonAlive(pid: number): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
