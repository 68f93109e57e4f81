/**
 * Notices container exits promptly without asking runc: conmon writes an exit file when the
 * process ends, so checking for that file (and that the pid lives) once a second is enough.
 */
import { existsSync } from 'node:fs';

function alive(pid: number): boolean {
  if (pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class ExitWatcher {
  private readonly watched = new Map<string, { exitFile: string; pid: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly onExit: (key: string) => void,
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.check(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  watch(key: string, exitFile: string, pid: number): void {
    this.watched.set(key, { exitFile, pid });
  }

  unwatch(key: string): void {
    this.watched.delete(key);
  }

  private check(): void {
    for (const [key, w] of this.watched) {
      if (existsSync(w.exitFile) || !alive(w.pid)) {
        this.watched.delete(key);
        this.onExit(key);
      }
    }
  }
}
