import type { ApiObject } from '../api/meta.js';
import type { Engine, StartKey, StoredEvent, StoredRow } from './engine.js';
import { EngineStore } from './engine-store.js';
import type { ObjectKey } from './types.js';
import type { WatchHubOptions } from './watch-hub.js';

interface Entry {
  namespace: string;
  name: string;
  revision: number;
  value: string;
  view: ApiObject;
}

/** One resource's objects: a map for lookups plus keys kept sorted for ordered scans. */
class Table {
  readonly byKey = new Map<string, Entry>();
  readonly sorted: string[] = [];
}

// NUL sorts before every other character, so sorting "namespace\0name" sorts by (namespace, name).
const SEP = '\0';

function compositeKey(namespace: string, name: string): string {
  return namespace + SEP + name;
}

/** First index whose key is >= k (or > k when `strict`). */
function bound(sorted: string[], k: string, strict: boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const m = sorted[mid] as string;
    if (m < k || (strict && m === k)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function firstAfter(history: StoredEvent[], revision: number): number {
  let lo = 0;
  let hi = history.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((history[mid] as StoredEvent).revision <= revision) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Everything in process memory; gone when the process ends. History grows until compacted. */
export class MemoryEngine implements Engine {
  private readonly tables = new Map<string, Table>();
  private events: StoredEvent[] = [];
  private rev = 0;
  private compacted = 0;

  transaction<T>(fn: () => T): T {
    // EngineStore does every check before the first mutation, so a throw leaves nothing half-done.
    return fn();
  }

  read(key: ObjectKey): StoredRow | undefined {
    return this.tables.get(key.resource)?.byKey.get(compositeKey(key.namespace, key.name));
  }

  revision(): number {
    return this.rev;
  }

  setRevision(revision: number): void {
    this.rev = revision;
  }

  put(key: ObjectKey, revision: number, value: string): ApiObject {
    let table = this.tables.get(key.resource);
    if (!table) {
      table = new Table();
      this.tables.set(key.resource, table);
    }
    const k = compositeKey(key.namespace, key.name);
    const view = JSON.parse(value) as ApiObject;
    if (!table.byKey.has(k)) table.sorted.splice(bound(table.sorted, k, false), 0, k);
    table.byKey.set(k, { namespace: key.namespace, name: key.name, revision, value, view });
    return view;
  }

  remove(key: ObjectKey): void {
    const table = this.tables.get(key.resource);
    if (!table) return;
    const k = compositeKey(key.namespace, key.name);
    if (!table.byKey.delete(k)) return;
    const i = bound(table.sorted, k, false);
    if (table.sorted[i] === k) table.sorted.splice(i, 1);
  }

  appendHistory(event: StoredEvent): void {
    this.events.push(event);
  }

  *scan(resource: string, namespace: string | undefined, after: StartKey | undefined): Iterable<StoredRow> {
    const table = this.tables.get(resource);
    if (!table) return;
    const [from, to] = this.range(table, namespace, after);
    for (let i = from; i < to; i++) {
      const entry = table.byKey.get(table.sorted[i] as string);
      if (entry) yield entry;
    }
  }

  countAfter(resource: string, namespace: string | undefined, after: StartKey | undefined): number {
    const table = this.tables.get(resource);
    if (!table) return 0;
    const [from, to] = this.range(table, namespace, after);
    return Math.max(0, to - from);
  }

  history(resource: string, afterRevision: number, namespace: string | undefined): StoredEvent[] {
    const out: StoredEvent[] = [];
    for (let i = firstAfter(this.events, afterRevision); i < this.events.length; i++) {
      const ev = this.events[i] as StoredEvent;
      if (ev.resource === resource && (namespace === undefined || ev.namespace === namespace)) out.push(ev);
    }
    return out;
  }

  compactedRevision(): number {
    return this.compacted;
  }

  compact(revision: number): void {
    this.events = this.events.slice(firstAfter(this.events, revision));
    this.compacted = revision;
  }

  counts(resource?: string): Record<string, number> {
    if (resource !== undefined) return { [resource]: this.tables.get(resource)?.byKey.size ?? 0 };
    const out: Record<string, number> = {};
    for (const [name, table] of this.tables) if (table.byKey.size > 0) out[name] = table.byKey.size;
    return out;
  }

  close(): void {
    this.tables.clear();
    this.events = [];
  }

  private range(table: Table, namespace: string | undefined, after: StartKey | undefined): [number, number] {
    let from = 0;
    let to = table.sorted.length;
    if (namespace !== undefined) {
      from = bound(table.sorted, namespace + SEP, false);
      to = bound(table.sorted, namespace + '\u0001', false);
    }
    if (after) from = Math.max(from, bound(table.sorted, compositeKey(after.namespace, after.name), true));
    return [from, to];
  }
}

/** The Store kept in process memory, for tests and throwaway servers. */
export class MemoryStore extends EngineStore {
  constructor(hubOptions: WatchHubOptions = {}) {
    super(new MemoryEngine(), hubOptions);
  }
}
