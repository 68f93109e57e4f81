/**
 * A rate-limited work queue in the manner of client-go's: a key is queued at most once, is never
 * processed by two workers at once (a key re-added while in flight runs again afterwards), failed
 * keys come back after an exponential per-key backoff, and a bounded number of workers drain it.
 */
import { Gauge, Histogram, Counter } from 'prom-client';
import { metricsRegistry } from '../metrics/registry.js';

const depthGauge = new Gauge({ name: 'workqueue_depth', help: 'Keys waiting in the work queue.', labelNames: ['name'] as const, registers: [metricsRegistry] });
const queueLatency = new Histogram({
  name: 'workqueue_queue_duration_seconds',
  help: 'Time a key waits in the queue before a worker takes it.',
  labelNames: ['name'] as const,
  buckets: [0.0001, 0.001, 0.01, 0.1, 0.5, 1, 5, 10, 60],
  registers: [metricsRegistry],
});
const workDuration = new Histogram({
  name: 'workqueue_work_duration_seconds',
  help: 'Time a worker spends on one key.',
  labelNames: ['name'] as const,
  buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60],
  registers: [metricsRegistry],
});
const retries = new Counter({ name: 'workqueue_retries_total', help: 'Keys re-queued after a failure.', labelNames: ['name'] as const, registers: [metricsRegistry] });

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

export type Handler = (key: string) => Promise<HandlerResult | void>;

/** A handler may ask to be called again after a delay even when it succeeded (polling a state). */
export interface HandlerResult {
  requeueAfterMs?: number;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly addedAt = new Map<string, number>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly waiters: (() => void)[] = [];
  private shuttingDown = false;
  private workers: Promise<void>[] = [];

  constructor(
    readonly name: string,
    private readonly backoff: BackoffPolicy = { baseMs: 5, maxMs: 1000 * 60 * 5 },
  ) {}

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    this.addedAt.set(key, Date.now());
    if (this.processing.has(key)) return;
    this.queue.push(key);
    depthGauge.set({ name: this.name }, this.queue.length);
    this.waiters.shift()?.();
  }

  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    const existing = this.timers.get(key);
    if (existing) clearTimeout(existing);
    const t = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    t.unref();
    this.timers.set(key, t);
  }

  /** Re-queue after the key's next backoff step. */
  addRateLimited(key: string): void {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    retries.inc({ name: this.name });
    this.addAfter(key, this.nextDelay(n));
  }

  nextDelay(failures: number): number {
    return Math.min(this.backoff.maxMs, this.backoff.baseMs * 2 ** failures);
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  get length(): number {
    return this.queue.length;
  }

  private async take(): Promise<string | undefined> {
    while (this.queue.length === 0) {
      if (this.shuttingDown) return undefined;
      await new Promise<void>((r) => this.waiters.push(r));
    }
    const key = this.queue.shift()!;
    depthGauge.set({ name: this.name }, this.queue.length);
    this.dirty.delete(key);
    this.processing.add(key);
    const added = this.addedAt.get(key);
    if (added !== undefined) queueLatency.observe({ name: this.name }, (Date.now() - added) / 1000);
    return key;
  }

  private done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.queue.push(key);
      depthGauge.set({ name: this.name }, this.queue.length);
      this.waiters.shift()?.();
    }
  }

  /** Start `concurrency` workers calling handler; a thrown error re-queues the key with backoff. */
  run(concurrency: number, handler: Handler, onError?: (key: string, err: unknown) => void): void {
    for (let i = 0; i < concurrency; i++) {
      this.workers.push(
        (async () => {
          for (;;) {
            const key = await this.take();
            if (key === undefined) return;
            const end = workDuration.startTimer({ name: this.name });
            try {
              const result = await handler(key);
              this.forget(key);
              if (result?.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
            } catch (err) {
              onError?.(key, err);
              this.addRateLimited(key);
            } finally {
              end();
              this.done(key);
            }
          }
        })(),
      );
    }
  }

  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const w of this.waiters.splice(0)) w();
    await Promise.all(this.workers);
  }
}
