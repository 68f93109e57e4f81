import type { ApiObject } from '../api/meta.js';
import type { StoredEvent } from './engine.js';
import type { Selection } from './selection.js';
import { StoreError, type Watch, type WatchEvent } from './types.js';

export interface WatchHubOptions {
  /** Live events a watcher may have pending before it is cut off (it then restarts from its last revision). */
  maxPending?: number;
  /** Events delivered to one watcher per turn of the event loop, so one busy watcher cannot starve writers. */
  batchSize?: number;
}

export interface SubscribeArgs {
  resource: string;
  selection: Selection;
  fromRevision: number;
  /** History with revision > fromRevision, read in the same synchronous turn as subscribe(). */
  replay: StoredEvent[];
  onEvent: (e: WatchEvent) => void;
  onError?: (err: Error) => void;
}

/**
 * Turns a history entry into what one watcher sees, following the Kubernetes watch cache:
 * an object that starts matching the selector arrives as ADDED, one that stops matching as
 * DELETED (with its previous content and the event's revision). Returns undefined to skip.
 */
export function toWatchEvent(ev: StoredEvent, sel: Selection): WatchEvent | undefined {
  if (sel.namespace !== undefined && ev.namespace !== sel.namespace) return undefined;
  if (sel.trivial) return { type: ev.type, object: JSON.parse(ev.value) as ApiObject, revision: ev.revision };
  const curPasses = ev.type !== 'DELETED' && sel.matches(valueView(ev));
  let oldPasses = false;
  if (ev.type === 'DELETED') oldPasses = sel.matches(valueView(ev));
  else if (ev.type === 'MODIFIED' && ev.prev !== undefined) oldPasses = sel.matches(prevView(ev));
  if (curPasses) {
    const object = JSON.parse(ev.value) as ApiObject;
    return { type: oldPasses ? 'MODIFIED' : 'ADDED', object, revision: ev.revision };
  }
  if (!oldPasses) return undefined;
  if (ev.type === 'DELETED') return { type: 'DELETED', object: JSON.parse(ev.value) as ApiObject, revision: ev.revision };
  const object = JSON.parse(ev.prev as string) as ApiObject;
  object.metadata.resourceVersion = String(ev.revision);
  return { type: 'DELETED', object, revision: ev.revision };
}

function valueView(ev: StoredEvent): ApiObject {
  return (ev.valueView ??= JSON.parse(ev.value) as ApiObject);
}

function prevView(ev: StoredEvent): ApiObject {
  return (ev.prevView ??= JSON.parse(ev.prev as string) as ApiObject);
}

class Subscription implements Watch {
  private replay: StoredEvent[];
  private replayHead = 0;
  private live: StoredEvent[] = [];
  private liveHead = 0;
  /** Highest revision queued so far; later live events at or below it are duplicates of the replay. */
  private queuedUpTo: number;
  private scheduled = false;
  private drainWaiters: (() => void)[] = [];
  stopped = false;

  constructor(
    private readonly hub: WatchHub,
    readonly resource: string,
    private readonly args: SubscribeArgs,
    private readonly maxPending: number,
    private readonly batchSize: number,
  ) {
    this.replay = args.replay;
    const last = args.replay[args.replay.length - 1];
    this.queuedUpTo = Math.max(args.fromRevision, last ? last.revision : 0);
    if (this.replay.length > 0) this.schedule();
  }

  offer(ev: StoredEvent): void {
    if (this.stopped || ev.revision <= this.queuedUpTo) return;
    if (this.args.selection.namespace !== undefined && ev.namespace !== this.args.selection.namespace) return;
    this.queuedUpTo = ev.revision;
    this.live.push(ev);
    if (this.live.length - this.liveHead > this.maxPending) {
      this.fail(
        new StoreError(
          `watch on ${this.resource} fell more than ${this.maxPending} events behind; restart it from the last revision it saw`,
        ),
      );
      return;
    }
    this.schedule();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.replay = [];
    this.live = [];
    this.hub.remove(this);
    this.wakeDrainWaiters();
  }

  drained(): Promise<void> {
    if (this.stopped || this.pending() === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private wakeDrainWaiters(): void {
    for (const w of this.drainWaiters.splice(0)) w();
  }

  fail(err: Error): void {
    if (this.stopped) return;
    this.stop();
    try {
      this.args.onError?.(err);
    } catch {
      // An error handler that throws must not take the writer down with it.
    }
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => this.drain());
  }

  private drain(): void {
    this.scheduled = false;
    let budget = this.batchSize;
    while (budget-- > 0 && !this.stopped) {
      const ev = this.take();
      if (!ev) break;
      let out: WatchEvent | undefined;
      try {
        out = toWatchEvent(ev, this.args.selection);
        if (out) this.args.onEvent(out);
      } catch (err) {
        this.fail(err instanceof Error ? err : new StoreError(String(err)));
        return;
      }
    }
    if (!this.stopped && this.pending() > 0) this.schedule();
    else this.wakeDrainWaiters();
  }

  private take(): StoredEvent | undefined {
    if (this.replayHead < this.replay.length) {
      const ev = this.replay[this.replayHead++];
      if (this.replayHead === this.replay.length) {
        this.replay = [];
        this.replayHead = 0;
      }
      return ev;
    }
    if (this.liveHead < this.live.length) {
      const ev = this.live[this.liveHead++];
      if (this.liveHead === this.live.length) {
        this.live = [];
        this.liveHead = 0;
      } else if (this.liveHead > 4096 && this.liveHead * 2 > this.live.length) {
        this.live = this.live.slice(this.liveHead);
        this.liveHead = 0;
      }
      return ev;
    }
    return undefined;
  }

  private pending(): number {
    return this.replay.length - this.replayHead + this.live.length - this.liveHead;
  }
}

/**
 * Fans live events out to watchers. Each watcher has its own queue drained asynchronously, in
 * revision order, so writers never wait for watchers and a throwing watcher only ends itself.
 */
export class WatchHub {
  private readonly byResource = new Map<string, Set<Subscription>>();
  private readonly maxPending: number;
  private readonly batchSize: number;

  constructor(opts: WatchHubOptions = {}) {
    this.maxPending = opts.maxPending ?? 100_000;
    this.batchSize = opts.batchSize ?? 1_000;
  }

  /** Must be called in the same synchronous turn as reading args.replay, before any further write. */
  subscribe(args: SubscribeArgs): Watch {
    const sub = new Subscription(this, args.resource, args, this.maxPending, this.batchSize);
    let set = this.byResource.get(args.resource);
    if (!set) {
      set = new Set();
      this.byResource.set(args.resource, set);
    }
    set.add(sub);
    return sub;
  }

  publish(ev: StoredEvent): void {
    const set = this.byResource.get(ev.resource);
    if (!set) return;
    for (const sub of set) sub.offer(ev);
  }

  /** Open watches, for metrics. */
  size(): number {
    let n = 0;
    for (const set of this.byResource.values()) n += set.size;
    return n;
  }

  /** Ends every watch with `err` (store closing). */
  closeAll(err: Error): void {
    for (const set of [...this.byResource.values()]) for (const sub of [...set]) sub.fail(err);
  }

  remove(sub: Subscription): void {
    const set = this.byResource.get(sub.resource);
    if (!set) return;
    set.delete(sub);
    if (set.size === 0) this.byResource.delete(sub.resource);
  }
}
