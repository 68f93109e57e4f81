/** A Store decorator that times every operation into berth_store_operation_duration_seconds. */
import type { ApiObject } from '../api/meta.js';
import { storeOperationDuration } from '../metrics/apiserver.js';
import type { ListOptions, ListResult, ObjectKey, Store, Watch, WatchEvent, WatchOptions } from '../store/types.js';

async function timed<T>(operation: string, resource: string, fn: () => Promise<T>): Promise<T> {
  const end = storeOperationDuration.startTimer({ operation, resource });
  try {
    return await fn();
  } finally {
    end();
  }
}

export class InstrumentedStore implements Store {
  constructor(private readonly inner: Store) {}

  create(key: ObjectKey, obj: ApiObject): Promise<ApiObject> {
    return timed('create', key.resource, () => this.inner.create(key, obj));
  }
  get(key: ObjectKey): Promise<ApiObject | undefined> {
    return timed('get', key.resource, () => this.inner.get(key));
  }
  list(resource: string, opts?: ListOptions): Promise<ListResult> {
    return timed('list', resource, () => this.inner.list(resource, opts));
  }
  update(key: ObjectKey, obj: ApiObject, expectedResourceVersion: string): Promise<ApiObject> {
    return timed('update', key.resource, () => this.inner.update(key, obj, expectedResourceVersion));
  }
  delete(key: ObjectKey, expectedResourceVersion?: string): Promise<ApiObject> {
    return timed('delete', key.resource, () => this.inner.delete(key, expectedResourceVersion));
  }
  watch(resource: string, opts: WatchOptions, onEvent: (e: WatchEvent) => void, onError?: (err: Error) => void): Promise<Watch> {
    return timed('watch', resource, () => this.inner.watch(resource, opts, onEvent, onError));
  }
  revision(): Promise<number> {
    return this.inner.revision();
  }
  compact(revision: number): Promise<void> {
    return timed('compact', '', () => this.inner.compact(revision));
  }
  compactedRevision(): Promise<number> {
    return this.inner.compactedRevision();
  }
  count(resource?: string): Promise<Record<string, number>> {
    return this.inner.count(resource);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
