import type { ApiObject } from '../api/meta.js';

/**
 * The watched store. Objects are plain JSON; the store owns metadata.resourceVersion,
 * which is the global revision of the write that last touched the object.
 * `resource` is 'group/plural' (see resourceOf); `namespace` is '' for cluster-scoped objects.
 */
export interface ObjectKey {
  resource: string;
  namespace: string;
  name: string;
}

export interface Requirement {
  key: string;
  operator: 'in' | 'notin' | 'exists' | '!exists' | '=' | '!=';
  values: string[];
}

export interface ListOptions {
  /** '' or undefined: all namespaces. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  /** Opaque token from a previous page. */
  continue?: string;
}

export interface ListResult {
  items: ApiObject[];
  /** Revision the list is consistent with (for a paginated list: the first page's revision). */
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface WatchEvent {
  type: WatchEventType;
  object: ApiObject;
  /** Revision of this event; equals object.metadata.resourceVersion (for DELETED: the deletion's revision). */
  revision: number;
}

export interface WatchOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Deliver every event with revision > this one. Required. */
  fromRevision: number;
}

export interface Watch {
  stop(): void;
  /**
   * Resolves once every event offered to this watch so far has been handed to onEvent (or
   * filtered out). Read the store's revision R, await drained(), and R is a safe bookmark.
   */
  drained(): Promise<void>;
}

export interface Store {
  /** Fails with AlreadyExistsError. Sets metadata.resourceVersion. */
  create(key: ObjectKey, obj: ApiObject): Promise<ApiObject>;
  /** undefined when absent. */
  get(key: ObjectKey): Promise<ApiObject | undefined>;
  /** Selectors are parsed with parseLabelSelector / parseFieldSelector; bad ones throw SelectorError. */
  list(resource: string, opts?: ListOptions): Promise<ListResult>;
  /**
   * Compare-and-swap: replaces the object only when its stored resourceVersion equals
   * expectedResourceVersion; otherwise ConflictError. NotFoundError when absent.
   */
  update(key: ObjectKey, obj: ApiObject, expectedResourceVersion: string): Promise<ApiObject>;
  /**
   * Removes the object (optionally CAS on resourceVersion). Returns the object as deleted, with
   * metadata.resourceVersion set to the deletion's revision. NotFoundError / ConflictError.
   */
  delete(key: ObjectKey, expectedResourceVersion?: string): Promise<ApiObject>;
  /**
   * Calls onEvent for every matching event with revision > fromRevision, in revision order,
   * first the history and then live events. TooOldError (synchronously thrown/rejected) when
   * fromRevision is older than the compacted revision. onError is called if the watch dies.
   */
  watch(resource: string, opts: WatchOptions, onEvent: (e: WatchEvent) => void, onError?: (err: Error) => void): Promise<Watch>;
  /** Current global revision. */
  revision(): Promise<number>;
  /** Forget history at and below `revision`; later watches from there get TooOldError. */
  compact(revision: number): Promise<void>;
  /** Oldest revision a watch can still start from (watch fromRevision must be >= this). */
  compactedRevision(): Promise<number>;
  /** Number of stored objects per resource, for metrics. */
  count(resource?: string): Promise<Record<string, number>>;
  close(): Promise<void>;
}

export class StoreError extends Error {}
export class NotFoundError extends StoreError {}
export class AlreadyExistsError extends StoreError {}
export class ConflictError extends StoreError {}
export class TooOldError extends StoreError {
  constructor(
    public readonly requested: number,
    public readonly compacted: number,
  ) {
    super(`too old resource version: ${requested} (${compacted})`);
  }
}
export class SelectorError extends StoreError {}
export class InvalidContinueError extends StoreError {}
