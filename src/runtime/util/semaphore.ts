/** At most `limit` holders at a time, served in the order they asked. */
export class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  /** Resolves once a place is free, to the function that gives it back (calling it again does nothing). */
  async acquire(): Promise<() => void> {
    if (this.active < this.limit) this.active++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const next = this.waiting.shift();
      // the place goes straight to the next in line
      if (next) next();
      else this.active--;
    };
  }
}
