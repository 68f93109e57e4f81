/**
 * Tasks: the process lifecycle of containers (containerd's task service), through conmon + runc:
 * start, stop, kill, restart, pause, unpause, wait, state, exec, logs, top, stats, and the exit
 * events. A container's record and bundle come from the metadata service; the state of its process
 * lives in <container>/state.json, reconciled with conmon's exit file on every look-up (observe.ts).
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SnapshotStore } from '../snapshots/store.js';
import { randomHexId } from '../util/digest.js';
import { conflict, failed, invalid, RuntimeError } from '../util/errors.js';
import { Cgroup, type CgroupStats, type CgroupVersion } from './cgroups.js';
import { mergeEnv } from './command.js';
import { AttachSession, type AttachStream } from './attach.js';
import { launchConmon } from './conmon.js';
import { collectExec, launchExec, type ExecStream, type TerminalSize } from './exec-stream.js';
import { ExitMonitor, exitWaker, type ExitListener } from './exits.js';
import type { ContainerLocks } from './locks.js';
import { LogRotationWatcher, logFiles, prepareLogFile, settleRotation } from './log-files.js';
import type { ContainerNetworking } from '../network/containers.js';
import { readLogs, type LogLine, type LogOptions } from './logs.js';
import { conmonAlive, observeState } from './observe.js';
import type { ContainerRecord, ContainerRecords, ContainerState } from './record.js';
import type { Runc } from './runc.js';
import { signalContainer } from './signals.js';
import { processSpec } from './spec.js';
import { processIsolation } from '../security/isolation.js';
import { stageSubPathMounts } from '../volumes/subpath.js';
import { describeProcesses, type TopProcess } from './top.js';
import { resolveUser } from './user.js';

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
  /** Output passed the buffered exec's limit (exec-stream.ts EXEC_OUTPUT_LIMIT) and was cut, with a marker. */
  truncated: boolean;
}

export interface ContainerStats extends CgroupStats {
  id: string;
  /** Seconds of CPU used since start (cpuUsageNs / 1e9). */
  cpuSeconds: number;
}

/** The task service's interface: containers are named by ID, unique ID prefix or name. */
export interface Tasks {
  state(ref: string): Promise<ContainerState>;
  start(ref: string, opts?: { onLaunched?: () => void }): Promise<ContainerState>;
  stop(ref: string, timeoutSeconds?: number): Promise<ContainerState>;
  kill(ref: string, signal?: string): Promise<void>;
  restart(ref: string, timeoutSeconds?: number): Promise<ContainerState>;
  pause(ref: string): Promise<void>;
  unpause(ref: string): Promise<void>;
  wait(ref: string, signal?: AbortSignal): Promise<number>;
  logs(ref: string, opts?: LogOptions, signal?: AbortSignal): AsyncGenerator<LogLine>;
  exec(ref: string, o: ExecOptions & { input?: string }): Promise<ExecResult>;
  execStream(ref: string, o: ExecOptions): Promise<ExecStream>;
  top(ref: string): Promise<TopProcess[]>;
  stats(ref: string): Promise<ContainerStats>;
  /**
   * docker attach: the container's output from now on, and its stdin when it was created with stdin open.
   * Resolves once registered: a container that is not running is connected when it next starts, between
   * runc create and runc start (docker run attaches before it starts), so none of its output is lost;
   * `close()` gives up.
   */
  attach(ref: string): Promise<AttachStream>;
  /** Exit events (see exits.ts); returns the unsubscribe. */
  onExit(listener: ExitListener): () => void;
}

export interface TaskServiceOptions {
  records: ContainerRecords;
  locks: ContainerLocks;
  runc: Runc;
  snapshots: SnapshotStore;
  cgroupVersion: CgroupVersion;
  /** The runtime binary conmon runs. */
  runtimeBinary: string;
  /** Attaches a container's network before it starts and detaches it after a stop. */
  network: Pick<ContainerNetworking, 'beforeStart' | 'afterStop'>;
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const live = (s: ContainerState): boolean => s.status === 'running' || s.status === 'paused';

export class TaskService implements Tasks {
  readonly runc: Runc;
  private readonly records: ContainerRecords;
  private readonly locks: ContainerLocks;
  private readonly exits: ExitMonitor;
  /** Keeps the files conmon's log cap rotates away (log-files.ts). */
  private readonly logRotation = new LogRotationWatcher();
  /** Attaches waiting for a container's next start, by container ID: connected between runc create and start. */
  private readonly waitingAttaches = new Map<string, Set<AttachSession>>();
  /** `runc delete` of exited containers under way, by container ID (forget()). */
  private readonly forgetting = new Map<string, Promise<void>>();

  constructor(private readonly o: TaskServiceOptions) {
    this.records = o.records;
    this.locks = o.locks;
    this.runc = o.runc;
    this.exits = new ExitMonitor({ records: o.records, observe: (rec) => this.locks.run(rec.id, () => this.observe(rec)) });
  }

  cgroup(rec: ContainerRecord): Cgroup {
    return new Cgroup(this.o.cgroupVersion, rec.cgroupsPath);
  }

  onExit(listener: ExitListener): () => void {
    return this.exits.subscribe(listener);
  }

  /** The container's state as conmon and runc report it; the caller holds its lock. */
  async observe(rec: ContainerRecord): Promise<ContainerState> {
    const s = await observeState({ records: this.records, runc: this.runc, cgroup: (r) => this.cgroup(r), forget: (r) => this.forget(r), onExited: (r, st) => this.exits.exited(r, st) }, rec);
    // a running container this process did not start (adopted after a restart) has its log watched too
    if (live(s)) this.logRotation.watch(rec.id, this.records.paths(rec.id).log, rec.options.log);
    else this.logRotation.unwatch(rec.id);
    return s;
  }

  /**
   * runc forgets an exited container (`runc delete`, 20 ms or more) in the background, so that what waited
   * for the exit (a stop, a removal) need not wait for runc too; the next start of the container waits
   * for it. A crash meanwhile leaves runc's state of an ID, which the crash sweep deletes.
   */
  private forget(rec: ContainerRecord): void {
    const done: Promise<void> = this.runc
      .delete(rec.id)
      .catch(() => undefined)
      // the cgroup went when the exit was recorded, unless a process was still leaving it
      .then(() => this.cgroup(rec).remove())
      .catch(() => undefined)
      .finally(() => {
        if (this.forgetting.get(rec.id) === done) this.forgetting.delete(rec.id);
      });
    this.forgetting.set(rec.id, done);
  }

  /** Until every exited container's runc state has been deleted (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.forgetting.size > 0) await Promise.all([...this.forgetting.values()]);
  }

  /** Stops watching logs (the containers keep running). */
  close(): void {
    this.logRotation.close();
  }

  async state(ref: string): Promise<ContainerState> {
    const rec = await this.records.resolve(ref);
    return this.locks.run(rec.id, () => this.observe(rec));
  }

  /**
   * docker start. `onLaunched` is called once conmon runs and runc is creating the container: the tens of
   * milliseconds until it runs are the caller's to use for other work.
   */
  async start(ref: string, opts: { onLaunched?: () => void } = {}): Promise<ContainerState> {
    const rec = await this.records.resolve(ref);
    return this.locks.run(rec.id, () => this.startLocked(rec, opts.onLaunched));
  }

  private async startLocked(rec: ContainerRecord, onLaunched?: () => void): Promise<ContainerState> {
    const s = await this.observe(rec);
    if (s.status === 'running') return s;
    if (s.status === 'paused') throw conflict(`container ${rec.name} is paused; unpause it instead`);
    const paths = this.records.paths(rec.id);
    // re-mounts the rootfs only when it is gone (after a reboot); a created container's rootfs is already mounted
    if (!(await this.o.snapshots.isMounted(rec.id))) await this.o.snapshots.prepare(rec.id, rec.diffIDs);
    await stageSubPathMounts(rec.mounts);
    await this.forgetting.get(rec.id);
    await this.runc.delete(rec.id).catch(() => undefined);
    await Promise.all([paths.exitFile, paths.initPid, paths.conmonPid, ...paths.oomFiles].map((f) => rm(f, { force: true })));
    await mkdir(paths.exitDir, { recursive: true });
    await prepareLogFile(paths.log, rec.options.log);
    let pid: number;
    // the network is attached while conmon and runc create the container; it is ready before runc start
    let attached = false;
    const network = this.o.network.beforeStart(rec).then(() => void (attached = true));
    network.catch(() => undefined);
    try {
      pid = await launchConmon({
        id: rec.id,
        bundle: paths.bundle,
        runcRoot: this.runc.root,
        runtime: this.o.runtimeBinary,
        logPath: paths.log,
        logSizeMax: rec.options.log.maxSizeBytes,
        exitDir: paths.exitDir,
        socketDir: paths.dir,
        conmonPidFile: paths.conmonPid,
        containerPidFile: paths.initPid,
        stdin: rec.options.stdin,
        leaveStdinOpen: !rec.options.stdinOnce,
        tty: rec.options.tty,
        onSpawned: onLaunched,
      });
      await network;
      // the process exists but has not run yet: attaches made before the start see all its output
      this.connectWaitingAttaches(rec);
      await this.runc.start(rec.id, pid);
    } catch (e) {
      await network.catch(() => undefined);
      await this.cleanupFailedStart(rec);
      if (attached) await this.o.network.afterStop(rec).catch(() => undefined);
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
    this.exits.started(rec.id, pid);
    this.logRotation.watch(rec.id, paths.log, rec.options.log);
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

  private attachPaths(rec: ContainerRecord): { socket: string; ctl: string } {
    const paths = this.records.paths(rec.id);
    // conmon binds "attach" in <socket-dir>/<id>, its link to the bundle
    return { socket: join(paths.bundle, 'attach'), ctl: join(paths.bundle, 'ctl') };
  }

  private connectWaitingAttaches(rec: ContainerRecord): void {
    const waiting = this.waitingAttaches.get(rec.id);
    if (!waiting) return;
    this.waitingAttaches.delete(rec.id);
    for (const session of waiting) session.connect();
  }

  async attach(ref: string): Promise<AttachStream> {
    const rec = await this.records.resolve(ref);
    const { socket, ctl } = this.attachPaths(rec);
    return this.locks.run(rec.id, async () => {
      const s = await this.observe(rec);
      if (s.status === 'running' || s.status === 'paused') {
        const now = new AttachSession(socket, ctl);
        now.connect();
        return now;
      }
      // registered under the lock, so a start cannot slip between the look and the registration
      let set = this.waitingAttaches.get(rec.id);
      if (!set) this.waitingAttaches.set(rec.id, (set = new Set()));
      const waiting = set;
      const session = new AttachSession(socket, ctl, () => {
        waiting.delete(session);
        if (waiting.size === 0 && this.waitingAttaches.get(rec.id) === waiting) this.waitingAttaches.delete(rec.id);
      });
      waiting.add(session);
      return session;
    });
  }

  /** Waits for the container to exit, up to `timeoutMs` (undefined: forever). Returns the observed state. */
  private async waitExit(rec: ContainerRecord, timeoutMs?: number, signal?: AbortSignal): Promise<ContainerState> {
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    // woken as conmon writes the exit file, not on the next tick of a 50 ms poll (the poll stays, for what a watch misses)
    const waker = exitWaker(this.records.paths(rec.id).exitDir);
    try {
      for (;;) {
        const s = await this.observe(rec);
        if (s.status === 'exited' || s.status === 'created' || Date.now() >= deadline || signal?.aborted) return s;
        await waker.next(Math.min(50, Math.max(0, deadline - Date.now())));
      }
    } finally {
      waker.close();
    }
  }

  /** docker stop: the stop signal, then SIGKILL after the grace period. */
  async stop(ref: string, timeoutSeconds?: number): Promise<ContainerState> {
    const rec = await this.records.resolve(ref);
    return this.locks.run(rec.id, () => this.stopLocked(rec, timeoutSeconds ?? rec.stopTimeoutSeconds));
  }

  private async stopLocked(rec: ContainerRecord, timeoutSeconds: number): Promise<ContainerState> {
    const after = await this.stopProcess(rec, timeoutSeconds);
    // stopped on request: its addresses and ports go back (an exit by itself keeps them for the restart)
    await this.o.network.afterStop(rec);
    return after;
  }

  private async stopProcess(rec: ContainerRecord, timeoutSeconds: number): Promise<ContainerState> {
    const s = await this.observe(rec);
    if (!live(s)) return s;
    await signalContainer(this.runc, rec.id, s, rec.stopSignal).catch(() => undefined);
    if (s.status === 'paused') await this.runc.resume(rec.id).catch(() => undefined);
    let after = await this.waitExit(rec, timeoutSeconds * 1000);
    if (after.status === 'exited') return after;
    await signalContainer(this.runc, rec.id, s, 'KILL', true).catch(() => undefined);
    after = await this.waitExit(rec, 30_000);
    if (after.status !== 'exited') throw failed(`container ${rec.name} did not stop after SIGKILL`);
    return after;
  }

  async kill(ref: string, signal = 'KILL'): Promise<void> {
    const rec = await this.records.resolve(ref);
    await this.locks.run(rec.id, async () => {
      const s = await this.observe(rec);
      if (!live(s)) throw conflict(`container ${rec.name} is not running`);
      if (!(await signalContainer(this.runc, rec.id, s, signal))) throw conflict(`container ${rec.name} is not running`);
      if (s.status === 'paused' && /^(SIG)?KILL$|^9$/.test(signal)) await this.runc.resume(rec.id).catch(() => undefined);
    });
  }

  async restart(ref: string, timeoutSeconds?: number): Promise<ContainerState> {
    const rec = await this.records.resolve(ref);
    return this.locks.run(rec.id, async () => {
      const stopped = await this.stopLocked(rec, timeoutSeconds ?? rec.stopTimeoutSeconds);
      await this.records.writeState(rec.id, { ...stopped, restartCount: stopped.restartCount + 1 });
      return this.startLocked(rec);
    });
  }

  async pause(ref: string): Promise<void> {
    const rec = await this.records.resolve(ref);
    await this.locks.run(rec.id, async () => {
      const s = await this.observe(rec);
      if (s.status !== 'running') throw conflict(`container ${rec.name} is not running`);
      await this.runc.pause(rec.id);
      await this.records.writeState(rec.id, { ...s, status: 'paused' });
    });
  }

  async unpause(ref: string): Promise<void> {
    const rec = await this.records.resolve(ref);
    await this.locks.run(rec.id, async () => {
      const s = await this.observe(rec);
      if (s.status !== 'paused') throw conflict(`container ${rec.name} is not paused`);
      await this.runc.resume(rec.id);
      await this.records.writeState(rec.id, { ...s, status: 'running' });
    });
  }

  /** docker wait: blocks until the container exits and returns its exit code. */
  async wait(ref: string, signal?: AbortSignal): Promise<number> {
    const rec = await this.records.resolve(ref);
    for (;;) {
      const s = await this.locks.run(rec.id, () => this.observe(rec));
      if (s.status === 'exited') return s.exitCode ?? -1;
      if (signal?.aborted) throw failed('wait aborted');
      await delay(100);
    }
  }

  /**
   * Ends a container's task for good (the metadata service's remove, under the container's lock): refused
   * while it runs unless forced, then killed, waited for, deleted from runc and its cgroup removed.
   */
  async deleteLocked(rec: ContainerRecord, force: boolean): Promise<void> {
    const s = await this.observe(rec);
    if (live(s)) {
      if (!force) throw conflict(`cannot remove running container ${rec.name}: stop it first or force removal`);
      await signalContainer(this.runc, rec.id, s, 'KILL', true).catch(() => undefined);
      if (s.status === 'paused') await this.runc.resume(rec.id).catch(() => undefined);
      const after = await this.waitExit(rec, 30_000);
      if (after.status !== 'exited') throw failed(`container ${rec.name} did not die`);
    }
    // runc's state of a container whose exit was recorded is being deleted already (forget()): not waited for;
    // its cgroup is, once the processes that ended with it have been reaped
    if (!this.forgetting.has(rec.id)) await this.runc.delete(rec.id).catch(() => undefined);
    await this.cgroup(rec).remove({ busyForMs: 2000 });
    this.logRotation.unwatch(rec.id);
    this.exits.removed(rec.id);
  }

  async *logs(ref: string, opts: LogOptions = {}, signal?: AbortSignal): AsyncGenerator<LogLine> {
    const rec = await this.records.resolve(ref);
    const done = async (): Promise<boolean> => !live(await this.locks.run(rec.id, () => this.observe(rec)));
    const log = this.records.paths(rec.id).log;
    const { maxFiles } = rec.options.log;
    const files = async (): Promise<string[]> => {
      await settleRotation(log, maxFiles);
      return logFiles(log, maxFiles);
    };
    yield* readLogs(files, opts, done, signal);
  }

  /** docker exec, buffered: `input` as stdin, the output collected. */
  async exec(ref: string, o: ExecOptions & { input?: string }): Promise<ExecResult> {
    return collectExec(await this.execStream(ref, o), o.input);
  }

  /** docker exec with streams: a tty, resize, stdin as it comes (what exec through the API serves). */
  async execStream(ref: string, o: ExecOptions): Promise<ExecStream> {
    const rec = await this.records.resolve(ref);
    const s = await this.locks.run(rec.id, () => this.observe(rec));
    if (s.status !== 'running') throw conflict(`container ${rec.name} is not running`);
    if (o.cmd.length === 0) throw invalid('cmd: exec needs a command');
    const snap = await this.o.snapshots.get(rec.id);
    const user = await resolveUser(snap?.rootfs ?? '/nonexistent', o.user ?? rec.user);
    // docker exec -t sets TERM when the container's environment has none
    const env = mergeEnv(o.tty ? ['TERM=xterm'] : [], rec.env, o.env);
    // an exec'd process gets the container's capabilities and no_new_privs; runc applies its seccomp filter
    const proc = { ...processSpec(o.cmd, env, o.workingDir ?? rec.workingDir, user, processIsolation(rec.options.security)), terminal: o.tty !== undefined };
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
    const rec = await this.records.resolve(ref);
    const s = await this.locks.run(rec.id, () => this.observe(rec));
    if (!live(s)) throw conflict(`container ${rec.name} is not running`);
    return describeProcesses(await this.cgroup(rec).pids());
  }

  async stats(ref: string): Promise<ContainerStats> {
    const rec = await this.records.resolve(ref);
    const s = await this.locks.run(rec.id, () => this.observe(rec));
    if (!live(s)) throw conflict(`container ${rec.name} is not running`);
    const st = await this.cgroup(rec).stats();
    return { id: rec.id, ...st, cpuSeconds: st.cpuUsageNs / 1e9 };
  }
}
