import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Cgroup } from './cgroups.js';
import type { ContainerRecord, ContainerRecords, ContainerState } from './record.js';
import type { Runc } from './runc.js';

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface ObserveDeps {
  records: ContainerRecords;
  runc: Runc;
  cgroup(rec: ContainerRecord): Cgroup;
  /** Has runc delete its state of an exited container, in the background. */
  forget(rec: ContainerRecord): void;
  /** A running container was seen to have exited (state.json now says so): once per exit. */
  onExited(rec: ContainerRecord, state: ContainerState): void;
}

/**
 * Reconciles state.json with what conmon and runc report (exit file, runc state); the caller holds
 * the container's lock. A running container is trusted while its own conmon runs and there is no
 * exit file, without spawning `runc state` to ask.
 */
export async function observeState(d: ObserveDeps, rec: ContainerRecord): Promise<ContainerState> {
  const paths = d.records.paths(rec.id);
  const s = await d.records.readState(rec.id);
  if (s.status !== 'running' && s.status !== 'paused') return s;
  let exitText: string | undefined;
  try {
    exitText = await readFile(paths.exitFile, 'utf8');
  } catch {
    exitText = undefined;
  }
  if (exitText === undefined) {
    // conmon writes the exit file when the container ends, then ends itself: while this container's conmon
    // runs and there is no exit file, the state is as recorded
    if (await monitorRunning(s.conmonPid, rec.id)) return s;
    const rs = await d.runc.state(rec.id);
    if (rs && (rs.status === 'running' || rs.status === 'paused' || rs.status === 'created')) {
      const status = rs.status === 'paused' ? 'paused' : 'running';
      if (status !== s.status) {
        s.status = status;
        await d.records.writeState(rec.id, s);
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
  const oom = paths.oomFiles.some((f) => existsSync(f)) || (await d.cgroup(rec).oomKills()) > 0;
  const next: ContainerState = {
    ...s,
    status: 'exited',
    pid: 0,
    exitCode: Number.isFinite(code) ? code : -1,
    finishedAt: finished,
    oomKilled: oom,
    ...(exitText === undefined ? { error: 'container monitor disappeared without an exit code' } : {}),
  };
  await d.records.writeState(rec.id, next);
  // the cgroup goes now (its processes have ended); runc's state later, without holding up the caller
  await d.cgroup(rec).remove();
  d.forget(rec);
  d.onExited(rec, next);
  return next;
}

/** Whether `pid` is still the conmon of container `id` (not a process that got its pid later). */
async function monitorRunning(pid: number, id: string): Promise<boolean> {
  if (!pid) return false;
  const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
  return basename(argv[0] ?? '') === 'conmon' && argv.includes(id);
}

export function conmonAlive(pid: number): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether a process exists (signal 0); a pid of 0 is no process. */
export function processAlive(pid: number): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
