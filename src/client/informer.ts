/**
 * Informers, as client-go's reflector + indexer + shared informer: one list (paged) and one watch
 * per resource and selector, a cache of the objects, indexes over it, and handlers called in order
 * for every change. The watch resumes from the last resourceVersion it saw (bookmarks keep that
 * fresh), lists again after 410 Gone, and after any failure starts again with a growing delay, so a
 * restarted API server is followed without anyone noticing but the log.
 */
import { errorText, logFn, type LogFn } from '../util/log.js';
import { isGone, type KObject, type ResourceClient, type WatchHandle } from './api-client.js';

export interface InformerOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Page size of the list (default 500). */
  pageSize?: number;
  /** First delay after a failure; doubles up to 30 s (default 250 ms). */
  retryDelayMs?: number;
  log?: LogFn;
}

export interface EventHandlers<T> {
  add?(obj: T): void;
  update?(old: T, obj: T): void;
  delete?(obj: T): void;
}

export const keyOf = (o: { metadata: { namespace?: string; name: string } }): string =>
  o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

const MAX_RETRY_MS = 30_000;

export class Informer<T extends KObject = KObject> {
  private readonly objects = new Map<string, T>();
  private readonly handlers: EventHandlers<T>[] = [];
  private readonly indexers = new Map<string, (obj: T) => string[]>();
  private readonly indexes = new Map<string, Map<string, Set<string>>>();
  private resourceVersion = '';
  private watch: WatchHandle | undefined;
  private stopped = true;
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private readonly log: LogFn;

  constructor(
    readonly resource: ResourceClient<T>,
    private readonly o: InformerOptions = {},
  ) {
    this.log = o.log ?? logFn('informer');
  }

  get name(): string {
    const sel = [this.o.fieldSelector, this.o.labelSelector].filter(Boolean).join(',');
    return `${this.resource.type.plural}${sel ? `(${sel})` : ''}`;
  }

  /** Handlers added after the first list get an add for every cached object, as client-go's do. */
  addHandler(h: EventHandlers<T>): void {
    this.handlers.push(h);
    if (this.synced) for (const obj of this.objects.values()) h.add?.(obj);
  }

  /** An index: `fn` gives the values an object is found under (byIndex). */
  addIndex(name: string, fn: (obj: T) => string[]): void {
    this.indexers.set(name, fn);
    const index = new Map<string, Set<string>>();
    this.indexes.set(name, index);
    for (const [key, obj] of this.objects) for (const v of fn(obj)) add(index, v, key);
  }

  byIndex(name: string, value: string): T[] {
    const keys = this.indexes.get(name)?.get(value);
    if (!keys) return [];
    return [...keys].map((k) => this.objects.get(k)).filter((o): o is T => o !== undefined);
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.objects.get(namespace ? `${namespace}/${name}` : name);
  }

  getByKey(key: string): T | undefined {
    return this.objects.get(key);
  }

  list(namespace?: string): T[] {
    const all = [...this.objects.values()];
    return namespace === undefined ? all : all.filter((o) => (o.metadata.namespace ?? '') === namespace);
  }

  keys(): string[] {
    return [...this.objects.keys()];
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  get lastResourceVersion(): string {
    return this.resourceVersion;
  }

  /** Starts listing and watching; resolves once the first list is in the cache. */
  start(): Promise<void> {
    if (this.stopped) {
      this.stopped = false;
      void this.run();
    }
    return this.waitForSync();
  }

  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.watch?.stop();
    this.watch = undefined;
    for (const w of this.syncWaiters.splice(0)) w();
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    try {
      if (!this.resourceVersion) await this.relist();
      if (this.stopped) return;
      this.watch = await this.resource.watch(
        {
          namespace: this.o.namespace,
          fieldSelector: this.o.fieldSelector,
          labelSelector: this.o.labelSelector,
          resourceVersion: this.resourceVersion,
          allowWatchBookmarks: true,
          // a watch that ends on its own now and then is re-checked by the server (as client-go does)
          timeoutSeconds: 300 + Math.floor(Math.random() * 300),
        },
        (type, obj) => this.onEvent(type, obj),
        (err) => this.onWatchEnd(err),
      );
      if (this.stopped) this.watch.stop();
    } catch (err) {
      this.retry(err);
    }
  }

  private onWatchEnd(err: unknown): void {
    this.watch = undefined;
    if (this.stopped) return;
    if (err === undefined) {
      this.failures = 0;
      void this.run();
      return;
    }
    this.retry(err);
  }

  private retry(err: unknown): void {
    if (this.stopped) return;
    if (isGone(err)) {
      // history compacted past our resourceVersion: list again from now
      this.resourceVersion = '';
      void this.run();
      return;
    }
    const delay = Math.min(MAX_RETRY_MS, (this.o.retryDelayMs ?? 250) * 2 ** this.failures++);
    this.log(`informer ${this.name}: ${errorText(err)}; retrying in ${delay} ms`, 'warn');
    this.retryTimer = setTimeout(() => void this.run(), delay);
    this.retryTimer.unref();
  }

  /** Replaces the cache with a fresh list, telling handlers what changed while nobody watched. */
  private async relist(): Promise<void> {
    const list = await this.resource.listAll(
      { namespace: this.o.namespace, fieldSelector: this.o.fieldSelector, labelSelector: this.o.labelSelector },
      this.o.pageSize ?? 500,
    );
    if (this.stopped) return;
    const fresh = new Map(list.items.map((o) => [keyOf(o), o]));
    for (const [key, old] of [...this.objects]) if (!fresh.has(key)) this.remove(key, old);
    for (const [key, obj] of fresh) this.put(key, obj);
    this.resourceVersion = list.metadata.resourceVersion ?? '';
    this.failures = 0;
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  private onEvent(type: string, obj: T): void {
    if (type === 'BOOKMARK') {
      this.resourceVersion = obj.metadata.resourceVersion ?? this.resourceVersion;
      return;
    }
    const key = keyOf(obj);
    if (type === 'DELETED') this.remove(key, this.objects.get(key) ?? obj, obj);
    else this.put(key, obj);
    this.resourceVersion = obj.metadata.resourceVersion ?? this.resourceVersion;
    this.failures = 0;
  }

  private put(key: string, obj: T): void {
    const old = this.objects.get(key);
    if (old && old.metadata.resourceVersion === obj.metadata.resourceVersion) return;
    if (old) this.unindex(key, old);
    this.objects.set(key, obj);
    this.index(key, obj);
    for (const h of this.handlers) {
      try {
        if (old) h.update?.(old, obj);
        else h.add?.(obj);
      } catch (err) {
        this.log(`informer ${this.name}: handler failed: ${errorText(err)}`, 'error');
      }
    }
  }

  private remove(key: string, old: T, last?: T): void {
    if (!this.objects.has(key)) return;
    this.unindex(key, old);
    this.objects.delete(key);
    for (const h of this.handlers) {
      try {
        h.delete?.(last ?? old);
      } catch (err) {
        this.log(`informer ${this.name}: handler failed: ${errorText(err)}`, 'error');
      }
    }
  }

  private index(key: string, obj: T): void {
    for (const [name, fn] of this.indexers) for (const v of fn(obj)) add(this.indexes.get(name)!, v, key);
  }

  private unindex(key: string, obj: T): void {
    for (const [name, fn] of this.indexers) {
      const index = this.indexes.get(name)!;
      for (const v of fn(obj)) {
        const set = index.get(v);
        set?.delete(key);
        if (set && set.size === 0) index.delete(v);
      }
    }
  }
}

function add(index: Map<string, Set<string>>, value: string, key: string): void {
  let set = index.get(value);
  if (!set) index.set(value, (set = new Set()));
  set.add(key);
}

/**
 * Shared informers: controllers in one process that watch the same resource with the same
 * selector share one list, one watch and one cache.
 */
export class InformerFactory {
  private readonly informers = new Map<string, Informer>();

  constructor(private readonly log?: LogFn) {}

  for<T extends KObject>(resource: ResourceClient<T>, o: Omit<InformerOptions, 'log'> = {}): Informer<T> {
    const t = resource.type;
    const key = `${t.group}/${t.version}/${t.plural}|${o.namespace ?? ''}|${o.fieldSelector ?? ''}|${o.labelSelector ?? ''}`;
    let inf = this.informers.get(key);
    if (!inf) {
      inf = new Informer(resource as unknown as ResourceClient<KObject>, { ...o, ...(this.log ? { log: this.log } : {}) });
      this.informers.set(key, inf);
    }
    return inf as unknown as Informer<T>;
  }

  /** Starts every informer made so far; resolves when all have listed. */
  async start(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.start()));
  }

  stop(): void {
    for (const i of this.informers.values()) i.stop();
  }
}
