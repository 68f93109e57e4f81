/**
 * A readers-writer lock for async sections in one process: any number of readers at a time, or one
 * writer. A waiting writer holds back new readers (so a steady stream of readers cannot starve it);
 * when a writer ends, the readers that waited go first.
 */
export class RwLock {
  private readers = 0;
  private writer = false;
  private readonly readersWaiting: Array<() => void> = [];
  private readonly writersWaiting: Array<() => void> = [];

  async read<T>(fn: () => Promise<T>): Promise<T> {
    if (this.writer || this.writersWaiting.length > 0) await new Promise<void>((r) => this.readersWaiting.push(r));
    else this.readers++;
    try {
      return await fn();
    } finally {
      this.readers--;
      if (this.readers === 0) this.admitWriter();
    }
  }

  async write<T>(fn: () => Promise<T>): Promise<T> {
    if (this.writer || this.readers > 0) await new Promise<void>((r) => this.writersWaiting.push(r));
    else this.writer = true;
    try {
      return await fn();
    } finally {
      this.writer = false;
      if (this.readersWaiting.length > 0) this.admitReaders();
      else this.admitWriter();
    }
  }

  private admitWriter(): void {
    const next = this.writersWaiting.shift();
    if (!next) return;
    this.writer = true;
    next();
  }

  private admitReaders(): void {
    for (const next of this.readersWaiting.splice(0)) {
      this.readers++;
      next();
    }
  }
}
