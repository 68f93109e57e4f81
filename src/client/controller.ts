/**
 * The controller runner every controller and every agent reconciler runs on, modelled on
 * controller-runtime's: informers feed keys into a rate-limited work queue (a key is queued once
 * and never reconciled by two workers at once), workers call reconcile(key), and the result decides
 * what happens next — an error comes back after the key's exponential backoff, `requeueAfterMs`
 * comes back after that delay, success forgets the key's failures. A periodic resync queues every
 * cached key again, so anything missed is corrected: reconcilers are level-triggered.
 *
 * Metrics come for free, per controller: reconciles by result, reconcile time, errors, active
 * workers, and the work queue's depth, latency and retries (workqueue.ts).
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import { metricsRegistry } from '../metrics/registry.js';
import { errorText, logFn, type LogFn } from '../util/log.js';
import { isConflict, type KObject } from './api-client.js';
import { keyOf, type Informer } from './informer.js';
import { WorkQueue, type BackoffPolicy } from './workqueue.js';

const reconcileTotal = new Counter({
  name: 'berth_controller_reconcile_total',
  help: 'Reconciles by controller and result (success, error, requeue).',
  labelNames: ['controller', 'result'] as const,
  registers: [metricsRegistry],
});
const reconcileErrors = new Counter({
  name: 'berth_controller_reconcile_errors_total',
  help: 'Reconciles that failed, by controller.',
  labelNames: ['controller'] as const,
  registers: [metricsRegistry],
});
const reconcileTime = new Histogram({
  name: 'berth_controller_reconcile_duration_seconds',
  help: 'Time one reconcile takes, by controller and result.',
  labelNames: ['controller', 'result'] as const,
  buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [metricsRegistry],
});
const activeWorkers = new Gauge({
  name: 'berth_controller_active_workers',
  help: 'Workers busy reconciling, by controller.',
  labelNames: ['controller'] as const,
  registers: [metricsRegistry],
});

export interface ReconcileResult {
  /** Reconcile this key again after this delay, even though this pass succeeded (polling a state). */
  requeueAfterMs?: number;
}

export type Reconcile = (key: string) => Promise<ReconcileResult | void>;

/**
 * Thrown to have the key retried with backoff without logging it as a failure (the reason is
 * already reported in the object's status).
 */
export class RetryLater extends Error {}

export interface ControllerOptions {
  /** Names the metrics and the queue. */
  name: string;
  reconcile: Reconcile;
  /** Workers (default 1). */
  concurrency?: number;
  backoff?: BackoffPolicy;
  /** Queue every cached key of the watched informers this often (default: never). */
  resyncMs?: number;
  log?: LogFn;
}

export interface WatchOptions<T> {
  /**
   * Keys to reconcile for a change of this object (default: the object's own key). On an update it
   * is called for the new and the old object; on resync with event 'resync'.
   */
  map?: (obj: T, event: 'add' | 'update' | 'delete' | 'resync') => string | string[] | undefined;
  /** Whether a change is worth a reconcile at all (default: every add, update and delete). */
  predicate?: (event: 'add' | 'update' | 'delete', obj: T, old?: T) => boolean;
  /** Whether this informer's keys are queued again on every resync (default true). */
  resync?: boolean;
}

export class Controller {
  readonly queue: WorkQueue;
  private readonly informers: Informer<KObject>[] = [];
  private readonly resynced: { informer: Informer<KObject>; map: (obj: KObject) => string[] }[] = [];
  private resyncTimer: NodeJS.Timeout | undefined;
  private started = false;
  private readonly log: LogFn;

  constructor(private readonly o: ControllerOptions) {
    this.queue = new WorkQueue(o.name, o.backoff);
    this.log = o.log ?? logFn('controller');
  }

  get name(): string {
    return this.o.name;
  }

  /** Reconcile keys for the changes of this informer's objects. */
  watch<T extends KObject>(informer: Informer<T>, w: WatchOptions<T> = {}): this {
    const map = (obj: T, event: 'add' | 'update' | 'delete' | 'resync'): string[] => {
      if (!w.map) return [keyOf(obj)];
      const out = w.map(obj, event);
      return out === undefined ? [] : Array.isArray(out) ? out : [out];
    };
    const fire = (event: 'add' | 'update' | 'delete', obj: T, old?: T) => {
      if (w.predicate && !w.predicate(event, obj, old)) return;
      for (const k of map(obj, event)) this.queue.add(k);
      // an update that moves an object from one mapped key to another concerns both
      if (old && w.map) for (const k of map(old, event)) this.queue.add(k);
    };
    informer.addHandler({
      add: (obj) => fire('add', obj),
      update: (old, obj) => fire('update', obj, old),
      delete: (obj) => fire('delete', obj),
    });
    this.informers.push(informer as unknown as Informer<KObject>);
    if (w.resync !== false) this.resynced.push({ informer: informer as unknown as Informer<KObject>, map: (obj) => map(obj as T, 'resync') });
    return this;
  }

  enqueue(key: string): void {
    this.queue.add(key);
  }

  enqueueAfter(key: string, delayMs: number): void {
    this.queue.addAfter(key, delayMs);
  }

  /** Waits for the informers' first lists, then starts the workers and the resync. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await Promise.all(this.informers.map((i) => i.start()));
    this.queue.run(this.o.concurrency ?? 1, (key) => this.reconcileOne(key), (key, err) => {
      if (err instanceof RetryLater) return;
      // An optimistic-concurrency conflict is expected: the key is retried with the latest object.
      this.log(`${this.o.name}: ${key}: ${errorText(err)}`, isConflict(err) ? 'debug' : 'error', { controller: this.o.name, key });
    });
    if (this.o.resyncMs) {
      this.resyncTimer = setInterval(() => this.resync(), this.o.resyncMs);
      this.resyncTimer.unref();
    }
  }

  /** Queues every cached key again. */
  resync(): void {
    for (const { informer, map } of this.resynced) for (const obj of informer.list()) for (const k of map(obj)) this.queue.add(k);
  }

  /** Stops the workers once the keys in flight are done; informers are the caller's (they may be shared). */
  async stop(): Promise<void> {
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    await this.queue.shutdown();
  }

  private async reconcileOne(key: string): Promise<ReconcileResult | void> {
    const labels = { controller: this.o.name };
    activeWorkers.inc(labels);
    const end = reconcileTime.startTimer();
    let result = 'error';
    try {
      const r = await this.o.reconcile(key);
      result = r?.requeueAfterMs !== undefined ? 'requeue' : 'success';
      return r;
    } catch (err) {
      reconcileErrors.inc(labels);
      throw err;
    } finally {
      end({ ...labels, result });
      reconcileTotal.inc({ ...labels, result });
      this.log(`${this.o.name}: ${key}: reconciled (${result})`, 'debug', { controller: this.o.name, key, result });
      activeWorkers.dec(labels);
    }
  }
}
