import { allEnded } from '../util/all-ended.js';

/**
 * API writes a reconcile holds back so they do not share the event loop with the runtime's work on the
 * critical path (create, then runc starting the container): they go out at the next flush() (once runc is
 * busy), and at the latest when the reconcile settles. Errors surface from settle(), the first one wins.
 */
export class DeferredWrites {
  private queued: Array<() => unknown> = [];
  private readonly started: Promise<unknown>[] = [];

  add(write: () => unknown): void {
    this.queued.push(write);
  }

  flush(): void {
    for (const write of this.queued.splice(0)) {
      const p = Promise.resolve().then(write);
      p.catch(() => undefined); // observed in settle(); this keeps an early rejection from counting as unhandled
      this.started.push(p);
    }
  }

  async settle(): Promise<void> {
    this.flush();
    await allEnded(this.started);
  }
}
