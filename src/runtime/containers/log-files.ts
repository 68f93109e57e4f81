/**
 * A container's log files, capped and rotated as Docker's json-file driver does with max-size and
 * max-file (default 10 MiB × 3). conmon enforces the cap itself (`--log-size-max`): once the next
 * line would pass it, conmon replaces ctr.log with a new empty file (rename of ctr.log.tmp). To keep
 * the replaced file as history, the runtime holds a second link to the current file, ctr.log.keep:
 * after conmon's rename the old inode lives on under that name, and settle() moves it to ctr.log.1
 * (ctr.log.1 to ctr.log.2, ..., the oldest past max-file deleted) and links the new file. A watch on
 * the container directory settles within milliseconds; should two rotations happen before it runs
 * (or while no runtime process runs), the one in between is lost, never the cap: disk use stays
 * within max-file × max-size (+ one line) per container whether or not the runtime is running.
 */
import { watch, type FSWatcher } from 'node:fs';
import { link, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { z } from 'zod';
import { isNodeError } from '../util/errors.js';

export const DEFAULT_LOG_MAX_SIZE = 10 << 20;
export const DEFAULT_LOG_MAX_FILES = 3;

export const LogOptionsSchema = z.object({
  /** conmon's --log-size-max: bytes per file (Docker's max-size). */
  maxSizeBytes: z.number().int().min(4096, 'log.maxSizeBytes must be at least 4096').default(DEFAULT_LOG_MAX_SIZE),
  /** Files kept, the current one included (Docker's max-file). */
  maxFiles: z.number().int().min(1).max(100).default(DEFAULT_LOG_MAX_FILES),
});
export type LogFileOptions = z.infer<typeof LogOptionsSchema>;

const keepPath = (log: string): string => `${log}.keep`;
const rotated = (log: string, n: number): string => `${log}.${n}`;

async function inode(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).ino;
  } catch (e) {
    if (isNodeError(e, 'ENOENT')) return undefined;
    throw e;
  }
}

async function renameIfExists(from: string, to: string): Promise<void> {
  await rename(from, to).catch((e: unknown) => {
    if (!isNodeError(e, 'ENOENT')) throw e;
  });
}

/** The log's files, oldest first, the current one last (those that exist). */
export async function logFiles(log: string, maxFiles: number): Promise<string[]> {
  const out: string[] = [];
  for (let n = Math.max(maxFiles - 1, 0); n >= 1; n--) if ((await inode(rotated(log, n))) !== undefined) out.push(rotated(log, n));
  const cur = await inode(log);
  const kept = await inode(keepPath(log));
  // a rotation conmon made that settle() has not moved yet: the file just before the current one
  if (kept !== undefined && kept !== cur) out.push(keepPath(log));
  if (cur !== undefined) out.push(log);
  return out;
}

const settling = new Map<string, Promise<boolean>>();

/** Moves a file conmon replaced into the history (see the module comment); whether there was one. One at a time per log. */
export function settleRotation(log: string, maxFiles: number): Promise<boolean> {
  const prev = settling.get(log) ?? Promise.resolve(false);
  const next = prev.catch(() => false).then(() => settleNow(log, maxFiles));
  settling.set(log, next);
  void next.finally(() => {
    if (settling.get(log) === next) settling.delete(log);
  }).catch(() => undefined);
  return next;
}

async function settleNow(log: string, maxFiles: number): Promise<boolean> {
  const keep = keepPath(log);
  const [cur, kept] = await Promise.all([inode(log), inode(keep)]);
  if (cur === undefined) return false;
  let moved = false;
  if (kept !== undefined && kept !== cur) {
    if (maxFiles <= 1) await rm(keep, { force: true });
    else {
      await rm(rotated(log, maxFiles - 1), { force: true });
      for (let n = maxFiles - 2; n >= 1; n--) await renameIfExists(rotated(log, n), rotated(log, n + 1));
      await renameIfExists(keep, rotated(log, 1));
    }
    moved = true;
  }
  if (maxFiles > 1 && (moved || kept === undefined)) {
    await link(log, keep).catch((e: unknown) => {
      if (!isNodeError(e, 'EEXIST') && !isNodeError(e, 'ENOENT')) throw e;
    });
  }
  return moved;
}

/**
 * Before conmon starts: a log left by an earlier run is rotated away when not empty (conmon counts
 * its cap from zero, so appending to it would let one file grow past the cap), and the current file
 * exists with its keep link, so that conmon's first rotation is kept too.
 */
export async function prepareLogFile(log: string, o: LogFileOptions): Promise<void> {
  await settleRotation(log, o.maxFiles);
  const size = await stat(log).then((s) => s.size, () => 0);
  if (size > 0) {
    // the current file becomes history exactly as a conmon rotation would make it
    await rm(keepPath(log), { force: true });
    await link(log, keepPath(log));
    await rm(`${log}.tmp`, { force: true });
    const fh = await open(`${log}.tmp`, 'w', 0o600);
    await fh.close();
    await rename(`${log}.tmp`, log);
    await settleRotation(log, o.maxFiles);
  } else if (size === 0 && (await inode(log)) === undefined) {
    const fh = await open(log, 'a', 0o600);
    await fh.close();
    await settleRotation(log, o.maxFiles);
  }
}

/**
 * Watches the logs of running containers and settles each rotation as conmon makes it. Watchers are
 * unref'd: they never keep a process alive.
 */
export class LogRotationWatcher {
  private readonly watchers = new Map<string, { w: FSWatcher; log: string; maxFiles: number }>();

  constructor(private readonly onError: (e: unknown) => void = () => undefined) {}

  watch(id: string, log: string, o: LogFileOptions): void {
    if (this.watchers.has(id) || o.maxFiles <= 1) return;
    let w: FSWatcher;
    try {
      w = watch(dirname(log), { persistent: false });
    } catch (e) {
      if (isNodeError(e, 'ENOENT')) return;
      throw e;
    }
    const name = basename(log);
    w.on('change', (_ev, file) => {
      if (file === name) void settleRotation(log, o.maxFiles).catch(this.onError);
    });
    w.on('error', () => this.unwatch(id));
    this.watchers.set(id, { w, log, maxFiles: o.maxFiles });
    // a rotation before the watch began
    void settleRotation(log, o.maxFiles).catch(this.onError);
  }

  watching(id: string): boolean {
    return this.watchers.has(id);
  }

  /** Stops watching, after settling what is there. */
  unwatch(id: string): void {
    const e = this.watchers.get(id);
    if (!e) return;
    this.watchers.delete(id);
    e.w.close();
    void settleRotation(e.log, e.maxFiles).catch(() => undefined);
  }

  close(): void {
    for (const id of [...this.watchers.keys()]) this.unwatch(id);
  }
}
