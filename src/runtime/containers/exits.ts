/**
 * Exit events of a runtime's containers, fed by conmon's exit files: conmon writes
 * <container>/exits/<id> (to a temp name, then renamed) when the container's process ends. While
 * anyone listens, each running container's exit directory is watched (inotify through fs.watch),
 * so an exit is noticed as the file appears; a poll once a second (a stat of the exit file and a
 * signal 0 to the init pid per running container) is the fallback for what a watch can miss.
 * An exit is reported once per run of a container (however it was noticed: by the watch, the poll,
 * or any caller whose look-up observed it). A new listener first hears of every container that has
 * exited, including the exits that happened while nobody listened (or no process ran).
 */
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { processAlive } from './observe.js';
import type { ContainerRecord, ContainerRecords, ContainerState } from './record.js';

export interface ExitEvent {
  id: string;
  name: string;
  labels: Record<string, string>;
  exitCode: number | undefined;
  oomKilled: boolean;
  startedAt: string | undefined;
  finishedAt: string | undefined;
  /** Why there is no exit code (the monitor disappeared). */
  error: string | undefined;
}

export type ExitListener = (e: ExitEvent) => void;

export interface ExitMonitorDeps {
  records: ContainerRecords;
  /** Observes a container under its lock; an exit it records comes back through exited(). */
  observe(rec: ContainerRecord): Promise<ContainerState>;
  pollMs?: number;
}

export class ExitMonitor {
  private readonly listeners = new Set<ExitListener>();
  /** Running containers, by ID: their init pid and the watch on their exit directory. */
  private readonly watched = new Map<string, { pid: number; watcher: FSWatcher | undefined }>();
  /** Per container, the run (its startedAt) whose exit was last reported. */
  private readonly reported = new Map<string, string>();
  /** Containers being checked, and those to check again once that ends. */
  private readonly checking = new Set<string>();
  private readonly again = new Set<string>();
  /** Containers the poll has seen (others are looked at once: started by another Runtime on the root). */
  private readonly known = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly d: ExitMonitorDeps) {}

  /** Calls `listener` on every exit from now on, and first for every container that has exited; returns the unsubscribe. */
  subscribe(listener: ExitListener): () => void {
    this.listeners.add(listener);
    if (!this.timer) {
      this.timer = setInterval(() => void this.poll().catch(() => undefined), this.d.pollMs ?? 1000);
      this.timer.unref();
    }
    void this.replay(listener).catch(() => undefined);
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  }

  /** A container runs now (tasks call this after a start). Costs nothing while nobody listens. */
  started(id: string, pid: number): void {
    this.known.add(id);
    if (this.listeners.size > 0) this.watch(id, pid);
  }

  /** An observation recorded that a running container exited. */
  exited(rec: ContainerRecord, s: ContainerState): void {
    this.unwatch(rec.id);
    const run = s.startedAt ?? '';
    if (this.reported.get(rec.id) === run) return;
    this.reported.set(rec.id, run);
    const e = eventOf(rec, s);
    for (const l of this.listeners) deliver(l, e);
  }

  /** A container was removed: nothing more to report. */
  removed(id: string): void {
    this.unwatch(id);
    this.reported.delete(id);
    this.known.delete(id);
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const id of [...this.watched.keys()]) this.unwatch(id);
  }

  private async replay(listener: ExitListener): Promise<void> {
    for (const rec of await this.d.records.all()) {
      this.known.add(rec.id);
      const before = this.reported.get(rec.id);
      const s = await this.d.observe(rec).catch(() => undefined);
      if (!s || !this.listeners.has(listener)) continue;
      if (s.status === 'running' || s.status === 'paused') this.watch(rec.id, s.pid);
      // an exit this observation recorded has been reported to every listener already
      else if (s.status === 'exited' && this.reported.get(rec.id) === before) deliver(listener, eventOf(rec, s));
    }
  }

  private watch(id: string, pid: number): void {
    const w = this.watched.get(id);
    if (w) {
      w.pid = pid;
      return;
    }
    const paths = this.d.records.paths(id);
    let watcher: FSWatcher | undefined;
    try {
      watcher = watch(paths.exitDir, (_event, name) => {
        if (name !== null && String(name) === id) this.check(id);
      });
      watcher.on('error', () => undefined); // the directory went with its container: the poll looks on
      watcher.unref();
    } catch {
      watcher = undefined; // no exit directory: the poll looks for the exit
    }
    this.watched.set(id, { pid, watcher });
    // it may have ended before the watch began
    if (existsSync(paths.exitFile)) this.check(id);
  }

  private unwatch(id: string): void {
    this.watched.get(id)?.watcher?.close();
    this.watched.delete(id);
  }

  /** Observes a container (one check at a time per container; an event meanwhile checks once more). */
  private check(id: string): void {
    if (this.checking.has(id)) {
      this.again.add(id);
      return;
    }
    this.checking.add(id);
    void (async () => {
      do {
        this.again.delete(id);
        const rec = await this.d.records.read(id);
        if (!rec) {
          this.unwatch(id);
          break;
        }
        const s = await this.d.observe(rec);
        if (s.status === 'exited') this.exited(rec, s); // recorded by another process: reported here once
        else if (s.status === 'created') this.unwatch(id);
      } while (this.again.has(id));
    })()
      .catch(() => undefined)
      .finally(() => this.checking.delete(id));
  }

  private async poll(): Promise<void> {
    for (const [id, w] of this.watched) {
      if (existsSync(this.d.records.paths(id).exitFile) || !processAlive(w.pid)) this.check(id);
    }
    for (const id of await this.d.records.ids()) {
      if (this.known.has(id)) continue;
      this.known.add(id);
      const s = await this.d.records.readState(id).catch(() => undefined);
      if (s && (s.status === 'running' || s.status === 'paused')) this.watch(id, s.pid);
    }
  }
}

function eventOf(rec: ContainerRecord, s: ContainerState): ExitEvent {
  return {
    id: rec.id,
    name: rec.name,
    labels: { ...rec.options.labels },
    exitCode: s.exitCode,
    oomKilled: s.oomKilled,
    startedAt: s.startedAt,
    finishedAt: s.finishedAt,
    error: s.error,
  };
}

function deliver(listener: ExitListener, e: ExitEvent): void {
  try {
    listener(e);
  } catch {
    // a listener's failure is its own; the others still hear of the exit
  }
}

/**
 * Wakes a waiter when anything changes in a container's exit directory (conmon's exit file appearing):
 * `next(ms)` resolves at the first change since the last call, or after `ms`. Without the directory it
 * is a plain timer.
 */
export function exitWaker(exitDir: string): { next(ms: number): Promise<void>; close(): void } {
  let changed = false;
  let wake: (() => void) | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(exitDir, () => {
      changed = true;
      wake?.();
    });
    watcher.on('error', () => undefined);
  } catch {
    watcher = undefined;
  }
  return {
    next(ms: number): Promise<void> {
      if (changed) {
        changed = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done(): void {
          clearTimeout(timer);
          wake = undefined;
          changed = false;
          resolve();
        }
        wake = done;
      });
    },
    close(): void {
      watcher?.close();
      wake?.();
    },
  };
}
