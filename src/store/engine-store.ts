import type { ApiObject } from '../api/meta.js';
import type { Engine, StartKey, StoredEvent, StoredRow } from './engine.js';
import { decodeContinue, encodeContinue } from './paging.js';
import { compileSelection, type Selection } from './selection.js';
import {
  AlreadyExistsError,
  ConflictError,
  InvalidContinueError,
  NotFoundError,
  StoreError,
  TooOldError,
  type ListOptions,
  type ListResult,
  type ObjectKey,
  type Store,
  type Watch,
  type WatchEvent,
  type WatchOptions,
} from './types.js';
import { WatchHub, type WatchHubOptions } from './watch-hub.js';

/**
 * The Store semantics, written once over a synchronous Engine (memory or SQLite).
 * A write is applied, committed and published to watchers in one synchronous flush, so it cannot
 * interleave with a watch's history replay; writes of one event-loop turn share that flush.
 */
export class EngineStore implements Store {
  private readonly hub: WatchHub;
  private closed = false;
  private pending: { body: () => { event: StoredEvent }; resolve: (v: { event: StoredEvent }) => void; reject: (err: unknown) => void }[] = [];
  private flushScheduled = false;

  constructor(
    private readonly engine: Engine,
    hubOptions: WatchHubOptions = {},
  ) {
    this.hub = new WatchHub(hubOptions);
  }

  async create(key: ObjectKey, obj: ApiObject): Promise<ApiObject> {
    this.checkOpen();
    checkKey(key, obj);
    const { json } = await this.commit(() => {
      if (this.engine.read(key)) throw new AlreadyExistsError(`${describe(key)} already exists`);
      const revision = this.engine.revision() + 1;
      const json = serialize(obj, revision);
      this.engine.setRevision(revision);
      const view = this.engine.put(key, revision, json);
      const event: StoredEvent = { revision, type: 'ADDED', ...key, value: json, valueView: view };
      this.engine.appendHistory(event);
      return { json, event };
    });
    return JSON.parse(json) as ApiObject;
  }

  async get(key: ObjectKey): Promise<ApiObject | undefined> {
    this.checkOpen();
    checkKeyShape(key);
    const row = this.engine.read(key);
    return row ? (JSON.parse(row.value) as ApiObject) : undefined;
  }

  async list(resource: string, opts: ListOptions = {}): Promise<ListResult> {
    this.checkOpen();
    checkResource(resource);
    const sel = compileSelection(opts);
    const limit = checkLimit(opts.limit);
    const current = this.engine.revision();
    let listRevision = current;
    let start: StartKey | undefined;
    if (opts.continue) {
      const token = decodeContinue(opts.continue);
      if (token.rv > current) throw new InvalidContinueError('invalid continue token: revision is from the future');
      listRevision = token.rv;
      start = token.start;
    }
    const items: ApiObject[] = [];
    let last: StoredRow | undefined;
    let more = false;
    let remaining = 0;
    for (const row of this.engine.scan(resource, sel.namespace, start)) {
      if (!sel.trivial && !sel.matches(viewOf(row))) continue;
      if (more) {
        remaining++;
        continue;
      }
      if (limit !== undefined && items.length === limit) {
        more = true;
        remaining = 1;
        // Without selectors the engine counts the rest far faster than we can walk it.
        if (sel.trivial) break;
        continue;
      }
      items.push(copyOf(row));
      last = row;
    }
    // Counted only after the scan is closed: SQLite cannot run a second statement mid-iteration.
    if (more && sel.trivial) remaining = this.engine.countAfter(resource, sel.namespace, last);
    const result: ListResult = { items, resourceVersion: String(listRevision) };
    if (more && last) {
      result.continue = encodeContinue({ rv: listRevision, start: { namespace: last.namespace, name: last.name } });
      result.remainingItemCount = remaining;
    }
    return result;
  }

  async update(key: ObjectKey, obj: ApiObject, expectedResourceVersion: string): Promise<ApiObject> {
    this.checkOpen();
    checkKey(key, obj);
    const { json } = await this.commit(() => {
      const current = this.engine.read(key);
      if (!current) throw new NotFoundError(`${describe(key)} not found`);
      checkVersion(key, current, expectedResourceVersion);
      const revision = this.engine.revision() + 1;
      const json = serialize(obj, revision);
      this.engine.setRevision(revision);
      const view = this.engine.put(key, revision, json);
      const event: StoredEvent = {
        revision,
        type: 'MODIFIED',
        ...key,
        value: json,
        prev: current.value,
        valueView: view,
        prevView: current.view,
      };
      this.engine.appendHistory(event);
      return { json, event };
    });
    return JSON.parse(json) as ApiObject;
  }

  async delete(key: ObjectKey, expectedResourceVersion?: string): Promise<ApiObject> {
    this.checkOpen();
    checkKeyShape(key);
    const { deleted } = await this.commit(() => {
      const current = this.engine.read(key);
      if (!current) throw new NotFoundError(`${describe(key)} not found`);
      if (expectedResourceVersion !== undefined) checkVersion(key, current, expectedResourceVersion);
      const revision = this.engine.revision() + 1;
      const deleted = JSON.parse(current.value) as ApiObject;
      deleted.metadata.resourceVersion = String(revision);
      const json = JSON.stringify(deleted);
      this.engine.setRevision(revision);
      this.engine.remove(key);
      const event: StoredEvent = { revision, type: 'DELETED', ...key, value: json };
      this.engine.appendHistory(event);
      return { deleted, event };
    });
    return deleted;
  }

  /**
   * Group commit: writes that arrive in the same turn of the event loop share one transaction (one
   * fsync on SQLite), each in its own nested transaction so one failing write leaves the others.
   * They apply in arrival order, and each is acknowledged, and published to watchers, only after
   * the batch is durable.
   */
  private commit<T extends { event: StoredEvent }>(body: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ body, resolve: resolve as (v: { event: StoredEvent }) => void, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.pending.splice(0);
    if (batch.length === 0) return;
    const outcomes: ({ ok: true; value: { event: StoredEvent } } | { ok: false; err: unknown })[] = [];
    try {
      this.engine.transaction(() => {
        for (const op of batch) {
          try {
            outcomes.push({ ok: true, value: this.engine.transaction(op.body) });
          } catch (err) {
            outcomes.push({ ok: false, err });
          }
        }
      });
    } catch (err) {
      for (const op of batch) op.reject(err);
      return;
    }
    batch.forEach((op, i) => {
      const o = outcomes[i]!;
      if (o.ok) {
        this.hub.publish(o.value.event);
        op.resolve(o.value);
      } else op.reject(o.err);
    });
  }

  async watch(
    resource: string,
    opts: WatchOptions,
    onEvent: (e: WatchEvent) => void,
    onError?: (err: Error) => void,
  ): Promise<Watch> {
    this.checkOpen();
    checkResource(resource);
    const from = opts.fromRevision;
    if (typeof from !== 'number' || !Number.isSafeInteger(from) || from < 0) {
      throw new StoreError(`watch fromRevision must be a non-negative integer, got ${String(from)}`);
    }
    const selection: Selection = compileSelection(opts);
    const compacted = this.engine.compactedRevision();
    if (from < compacted) throw new TooOldError(from, compacted);
    const replay = this.engine.history(resource, from, selection.namespace);
    return this.hub.subscribe({ resource, selection, fromRevision: from, replay, onEvent, onError });
  }

  async revision(): Promise<number> {
    this.checkOpen();
    return this.engine.revision();
  }

  async compact(revision: number): Promise<void> {
    this.checkOpen();
    if (!Number.isSafeInteger(revision) || revision < 0) {
      throw new StoreError(`compact revision must be a non-negative integer, got ${String(revision)}`);
    }
    this.engine.transaction(() => {
      const current = this.engine.revision();
      if (revision > current) {
        throw new StoreError(`cannot compact to revision ${revision}: the current revision is ${current}`);
      }
      if (revision > this.engine.compactedRevision()) this.engine.compact(revision);
    });
  }

  async compactedRevision(): Promise<number> {
    this.checkOpen();
    return this.engine.compactedRevision();
  }

  async count(resource?: string): Promise<Record<string, number>> {
    this.checkOpen();
    return this.engine.counts(resource);
  }

  /** Open watches, for metrics. */
  watchCount(): number {
    return this.hub.size();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.hub.closeAll(new StoreError('store closed'));
    this.engine.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreError('store is closed');
  }
}

function describe(key: ObjectKey): string {
  return `${key.resource} "${key.namespace ? `${key.namespace}/` : ''}${key.name}"`;
}

function checkResource(resource: unknown): void {
  if (typeof resource !== 'string' || resource === '') throw new StoreError('resource must be a non-empty string');
}

function checkKeyShape(key: ObjectKey): void {
  checkResource(key.resource);
  if (typeof key.name !== 'string' || key.name === '') throw new StoreError('key name must be a non-empty string');
  if (typeof key.namespace !== 'string') throw new StoreError('key namespace must be a string ("" for cluster-scoped)');
  if (key.name.includes('\0') || key.namespace.includes('\0')) {
    throw new StoreError('key namespace and name must not contain NUL characters');
  }
}

function checkKey(key: ObjectKey, obj: ApiObject): void {
  checkKeyShape(key);
  if (typeof obj !== 'object' || obj === null || typeof obj.metadata !== 'object' || obj.metadata === null) {
    throw new StoreError(`${describe(key)}: object must have metadata`);
  }
  if (obj.metadata.name !== key.name) {
    throw new StoreError(`${describe(key)}: metadata.name "${String(obj.metadata.name)}" does not match the key`);
  }
  if ((obj.metadata.namespace ?? '') !== key.namespace) {
    throw new StoreError(
      `${describe(key)}: metadata.namespace "${String(obj.metadata.namespace ?? '')}" does not match the key`,
    );
  }
}

function checkVersion(key: ObjectKey, current: StoredRow, expected: string): void {
  if (expected !== String(current.revision)) {
    throw new ConflictError(
      `Operation cannot be fulfilled on ${describe(key)}: the object has been modified ` +
        `(stored resourceVersion ${current.revision}, expected ${JSON.stringify(expected)})`,
    );
  }
}

function checkLimit(limit: number | undefined): number | undefined {
  if (limit === undefined || limit === 0) return undefined;
  if (!Number.isSafeInteger(limit) || limit < 0) throw new StoreError(`limit must be a non-negative integer, got ${limit}`);
  return limit;
}

/** The stored JSON: the object with resourceVersion set, detached from the caller's references. */
function serialize(obj: ApiObject, revision: number): string {
  try {
    return JSON.stringify({ ...obj, metadata: { ...obj.metadata, resourceVersion: String(revision) } });
  } catch (err) {
    throw new StoreError(`object ${obj.metadata.name} cannot be stored as JSON: ${(err as Error).message}`);
  }
}

const owned = new WeakSet<StoredRow>();

/** A read-only parsed view of a row for selector matching; parsed at most once per row. */
function viewOf(row: StoredRow): ApiObject {
  if (!row.view) {
    row.view = JSON.parse(row.value) as ApiObject;
    owned.add(row);
  }
  return row.view;
}

/** A copy the caller may keep and mutate: reuses a view we parsed ourselves, never one the engine shares. */
function copyOf(row: StoredRow): ApiObject {
  if (row.view && owned.has(row)) return row.view;
  return JSON.parse(row.value) as ApiObject;
}
