import { MemoryStore } from './memory.js';
import { SqliteStore } from './sqlite.js';
import { StoreError, type Store } from './types.js';

export * from './types.js';
export { MemoryStore } from './memory.js';
export { SqliteStore } from './sqlite.js';
export { fieldMatcher, labelMatcher, parseFieldSelector, parseLabelSelector } from './selectors.js';

/**
 * Opens a store from a spec: `memory:` or `sqlite:/path/to/db` (relative paths are taken from
 * the working directory). `etcd://host:port,...` is reserved for the etcd backend.
 */
export async function openStore(spec: string): Promise<Store> {
  if (spec === 'memory:' || spec === 'memory') return new MemoryStore();
  if (spec.startsWith('sqlite:')) {
    const path = spec.slice('sqlite:'.length);
    if (path === '') throw new StoreError(`store spec "${spec}" has no path; use sqlite:/path/to/db`);
    return SqliteStore.open(path);
  }
  if (spec.startsWith('etcd://')) throw new StoreError(`store spec "${spec}": the etcd backend is not supported yet`);
  throw new StoreError(`unknown store spec "${spec}"; use memory: or sqlite:/path/to/db`);
}
