import { spawn } from 'node:child_process';
import { failed } from '../util/errors.js';

export interface ConmonLaunch {
  id: string;
  bundle: string;
  runcRoot: string;
  runtime: string;
  logPath: string;
  exitDir: string;
  socketDir: string;
  conmonPidFile: string;
  containerPidFile: string;
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
    '-l', `k8s-file:${o.logPath}`, '--exit-dir', o.exitDir, '--socket-dir-path', o.socketDir,
    '--log-level', 'error', '--syslog=false',
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('conmon', args, {
      // conmon writes its "oom" marker into its working directory: keep it in the bundle.
      cwd: o.bundle,
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
      env: { ...process.env, _OCI_SYNCPIPE: '3' },
      detached: true,
    });
    let sync = '';
    let stderr = '';
    let done = false;
    const finish = (err: Error | undefined, pid?: number): void => {
      if (done) return;
      done = true;
      const pipe = child.stdio[3];
      pipe?.removeAllListeners('data');
      (pipe as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      child.stderr?.removeAllListeners('data');
      child.stderr?.destroy();
      if (err) reject(err);
      else resolve(pid as number);
    };
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdio[3]?.on('data', (d: Buffer) => {
      sync += d.toString();
      const m = /\{[^}]*\}/.exec(sync);
      if (!m) return;
      const msg = JSON.parse(m[0]) as { data?: number; message?: string };
      if (typeof msg.data === 'number' && msg.data > 0) finish(undefined, msg.data);
      else finish(failed(`container ${o.id}: runc create failed: ${msg.message ?? sync.trim()}`));
    });
    child.on('error', (e) => finish(failed(`conmon could not be started: ${e.message}`)));
    child.on('close', () => {
      // the daemonised conmon keeps the pipe; close without a sync message means it failed
      // only while still waiting: once the container is created this timer would keep the process alive for 2 s
      if (!done) setTimeout(() => finish(failed(`container ${o.id}: conmon exited without creating the container: ${stderr.trim() || sync.trim()}`)), 2000);
    });
    child.unref();
  });
}
