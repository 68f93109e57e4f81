import { spawn } from 'node:child_process';
import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { failed } from '../util/errors.js';
import { syscallError, syscalls } from '../util/syscalls.js';

export interface ConmonLaunch {
  id: string;
  bundle: string;
  runcRoot: string;
  runtime: string;
  logPath: string;
  /** conmon's cap on the log file: past it conmon starts a new file (log-files.ts keeps the old). */
  logSizeMax: number;
  exitDir: string;
  socketDir: string;
  conmonPidFile: string;
  containerPidFile: string;
  /** conmon holds the process's stdin open for attach (-i); `leaveStdinOpen`: an attach ending its input does not close it. */
  stdin?: boolean;
  leaveStdinOpen?: boolean;
  /** The process has a terminal (-t): conmon takes its master through runc's console socket. */
  tty?: boolean;
  /** Called once conmon runs, while runc creates the container. */
  onSpawned?: () => void;
}

/**
 * Starts conmon, which runs `runc create` and then stays as the container's monitor (holding
 * stdio, writing the k8s-file log and the exit file). Resolves with the container's init pid once
 * runc has created it, read from conmon's sync pipe (fd 3).
 */
export function launchConmon(o: ConmonLaunch): Promise<number> {
  const args = [
    '--api-version', '1', '-c', o.id, '-u', o.id, '-n', o.id,
    '-r', o.runtime, '--runtime-arg', `--root=${o.runcRoot}`,
    '-b', o.bundle, '-p', o.containerPidFile, '--conmon-pidfile', o.conmonPidFile,
    '-l', `k8s-file:${o.logPath}`, '--log-size-max', String(o.logSizeMax), '--exit-dir', o.exitDir, '--socket-dir-path', o.socketDir,
    '--log-level', 'error', '--syslog=false',
  ];
  if (o.stdin) args.push('--stdin', ...(o.leaveStdinOpen ? ['--leave-stdin-open'] : []));
  if (o.tty) args.push('--terminal');
  return new Promise((resolve, reject) => {
    let launched: Launched;
    try {
      // conmon writes its "oom" marker into its working directory: keep it in the bundle.
      launched = spawnConmon(args, o.bundle);
    } catch (e) {
      reject(failed(`conmon could not be started: ${(e as Error).message}`));
      return;
    }
    o.onSpawned?.();
    const { sync, stderr } = launched;
    let syncText = '';
    let errText = '';
    let done = false;
    const finish = (err: Error | undefined, pid?: number): void => {
      if (done) return;
      done = true;
      sync.removeAllListeners('data');
      sync.destroy();
      stderr.removeAllListeners('data');
      stderr.destroy();
      if (err) reject(err);
      else resolve(pid as number);
    };
    stderr.on('data', (d: Buffer) => (errText += d.toString()));
    stderr.on('error', () => undefined);
    sync.on('error', () => undefined);
    sync.on('data', (d: Buffer) => {
      syncText += d.toString();
      const m = /\{[^}]*\}/.exec(syncText);
      if (!m) return;
      const msg = JSON.parse(m[0]) as { data?: number; message?: string };
      if (typeof msg.data === 'number' && msg.data > 0) finish(undefined, msg.data);
      else finish(failed(`container ${o.id}: runc create failed: ${msg.message ?? syncText.trim()}`));
    });
    void launched.exited.then(() => {
      // the daemonised conmon keeps the pipe; an exit without a sync message means it failed
      // only while still waiting: once the container is created this timer would keep the process alive for 2 s
      if (!done) setTimeout(() => finish(failed(`container ${o.id}: conmon exited without creating the container: ${errText.trim() || syncText.trim()}`)), 2000);
    });
  });
}

interface Launched {
  sync: Readable;
  stderr: Readable;
  /** Resolves when the launched process (conmon before it daemonises) has exited and been reaped. */
  exited: Promise<void>;
}

/**
 * Starts conmon in a session of its own with fd 3 as its sync pipe. With the berth-syscalls addon this is
 * posix_spawn, which does not copy the server's page tables (fork() of a 200+ MiB Node process blocks the
 * event loop for 15-20 ms); the addon's child is reaped here, since libuv only reaps its own.
 */
function spawnConmon(args: string[], cwd: string): Launched {
  const env = { ...process.env, _OCI_SYNCPIPE: '3' };
  const sys = syscalls();
  if (sys) {
    let r;
    try {
      r = sys.spawnDetached('conmon', ['conmon', ...args], Object.entries(env).map(([k, v]) => `${k}=${v ?? ''}`), cwd);
    } catch (e) {
      throw syscallError(e, 'conmon');
    }
    const { pid } = r;
    const exited = new Promise<void>((resolve) => {
      const poll = (): void => {
        if (sys.reapStatus(pid) !== null) resolve();
        else setTimeout(poll, 5).unref();
      };
      poll();
    });
    return {
      sync: new Socket({ fd: r.syncFd, readable: true, writable: false }),
      stderr: new Socket({ fd: r.stderrFd, readable: true, writable: false }),
      exited,
    };
  }
  const child = spawn('conmon', args, { cwd, stdio: ['ignore', 'ignore', 'pipe', 'pipe'], env, detached: true });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  child.on('error', () => undefined);
  child.unref();
  const errorAsExit = new Promise<void>((resolve) => child.once('error', () => resolve()));
  return { sync: child.stdio[3] as Readable, stderr: child.stderr as Readable, exited: Promise.race([exited, errorAsExit]) };
}
