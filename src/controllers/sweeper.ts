import type { Store, Watch, WatchEvent } from '../store/types.js';

/**
 * Runs a level-triggered sweep whenever poked: pokes that arrive while a sweep runs
 * coalesce into one more sweep; a periodic poke catches anything missed.
 */
export class Sweeper {
  private watches: Watch[] = [];
  private running = false;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly name: string,
    private readonly sweep: () => Promise<void>,
    private readonly periodMs: number,
  ) {}

  /** Sweep again whenever an event on `resource` after `fromRevision` passes `when`. */
  async pokeOn(store: Store, resource: string, fromRevision: number, when: (ev: WatchEvent) => boolean): Promise<void> {
    this.watches.push(
      await store.watch(resource, { fromRevision }, (ev) => {
        if (when(ev)) this.poke();
      }),
    );
  }

  start(): void {
    this.timer = setInterval(() => this.poke(), this.periodMs);
    this.timer.unref();
    this.poke();
  }

  poke(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void (async () => {
      do {
        this.again = false;
        try {
          await this.sweep();
        } catch (err) {
          console.error(`${this.name}: sweep failed:`, err instanceof Error ? err.message : err);
        }
      } while (this.again && !this.stopped);
      this.running = false;
    })();
  }

  /** Resolves when no sweep is running. */
  async idle(): Promise<void> {
    while (this.running) await new Promise((r) => setTimeout(r, 5));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const w of this.watches.splice(0)) w.stop();
  }
}
