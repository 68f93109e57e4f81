import type { ApiObject } from '../api/meta.js';
import type { ObjectKey, WatchEventType } from './types.js';

/** A stored object as the engine holds it: JSON text plus, when the engine keeps one, a parsed read-only view. */
export interface StoredRow {
  namespace: string;
  name: string;
  revision: number;
  value: string;
  /** Parsed value shared with the engine: read it, never mutate or hand it out. */
  view?: ApiObject;
}

/** One history entry, the source of watch events. */
export interface StoredEvent {
  revision: number;
  type: WatchEventType;
  resource: string;
  namespace: string;
  name: string;
  /** JSON of the object after the write; for DELETED, the object as deleted (resourceVersion = revision). */
  value: string;
  /** JSON of the object before a MODIFIED write, so watches with selectors can tell it left or entered them. */
  prev?: string;
  /** Lazily parsed, read-only views of value/prev, shared by every watcher of this event. */
  valueView?: ApiObject;
  prevView?: ApiObject;
}

export interface StartKey {
  namespace: string;
  name: string;
}

/**
 * The small synchronous storage primitive under EngineStore. All Store semantics (CAS, revisions,
 * paging, selectors, watch fan-out) live in EngineStore once; an engine only stores rows.
 * Every method is synchronous, which is what makes the watch replay/live hand-over gap-free.
 */
export interface Engine {
  /** Runs fn atomically and durably: its writes commit together or not at all. */
  transaction<T>(fn: () => T): T;
  read(key: ObjectKey): StoredRow | undefined;
  /** Current global revision. */
  revision(): number;
  setRevision(revision: number): void;
  /** Stores the object; returns a read-only parsed view when the engine keeps one. */
  put(key: ObjectKey, revision: number, value: string): ApiObject | undefined;
  remove(key: ObjectKey): void;
  appendHistory(event: StoredEvent): void;
  /** Rows of one resource sorted by (namespace, name), optionally one namespace, strictly after `after`. */
  scan(resource: string, namespace: string | undefined, after: StartKey | undefined): Iterable<StoredRow>;
  /** Number of rows scan() would yield. */
  countAfter(resource: string, namespace: string | undefined, after: StartKey | undefined): number;
  /** History of one resource with revision > afterRevision, in revision order. */
  history(resource: string, afterRevision: number, namespace: string | undefined): StoredEvent[];
  compactedRevision(): number;
  /** Drops history at and below `revision` and records it as the compacted revision. */
  compact(revision: number): void;
  counts(resource?: string): Record<string, number>;
  close(): void;
}
