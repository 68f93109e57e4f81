import { describe, expect, it } from 'vitest';
import { EngineStore } from '../../../src/store/engine-store.js';
import { MemoryEngine } from '../../../src/store/memory.js';
import type { WatchEvent } from '../../../src/store/types.js';

/** A memory engine whose commits become durable only when the test says so, like SQLite's WAL before its fdatasync. */
class DeferredSyncEngine extends MemoryEngine {
  readonly syncs: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  sync(): Promise<void> {
    return new Promise((resolve, reject) => this.syncs.push({ resolve, reject }));
  }
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
const cm = (name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'ns' } });
const key = (name: string) => ({ resource: 'configmaps', namespace: 'ns', name });

describe('EngineStore over an engine with sync()', () => {
  it('acknowledges and publishes a write only once it is durable, batch after batch in order', async () => {
    const engine = new DeferredSyncEngine();
    const store = new EngineStore(engine);
    const seen: string[] = [];
    await store.watch('configmaps', { fromRevision: 0 }, (e: WatchEvent) => seen.push(`${e.type} ${e.object.metadata.name}`));
    let acked = 0;
    const a = store.create(key('a'), cm('a')).then(() => acked++);
    await tick();
    const b = store.create(key('b'), cm('b')).then(() => acked++);
    await tick();
    expect(engine.syncs).toHaveLength(2);
    // committed, so a read sees it, but nobody has been told
    expect(await store.get(key('b'))).toBeDefined();
    expect(acked).toBe(0);
    expect(seen).toEqual([]);
    // the second batch's sync finishing first must not publish it before the first
    engine.syncs[1]!.resolve();
    await tick();
    expect(acked).toBe(0);
    engine.syncs[0]!.resolve();
    await Promise.all([a, b]);
    await tick();
    expect(acked).toBe(2);
    expect(seen).toEqual(['ADDED a', 'ADDED b']);
    await store.close();
  });

  it('refuses everything once a sync fails: nothing unsynced is acknowledged', async () => {
    const engine = new DeferredSyncEngine();
    const store = new EngineStore(engine);
    const a = store.create(key('a'), cm('a'));
    await tick();
    engine.syncs[0]!.reject(new Error('EIO'));
    await expect(a).rejects.toThrow(/could not be synced to disk: EIO/);
    await expect(store.get(key('a'))).rejects.toThrow(/could not be synced/);
    await expect(store.create(key('c'), cm('c'))).rejects.toThrow(/could not be synced/);
  });

  it('close() waits for the writes still syncing', async () => {
    const engine = new DeferredSyncEngine();
    const store = new EngineStore(engine);
    const a = store.create(key('a'), cm('a'));
    await tick();
    let closed = false;
    const closing = store.close().then(() => (closed = true));
    await tick();
    expect(closed).toBe(false);
    engine.syncs[0]!.resolve();
    await Promise.all([a, closing]);
    expect(closed).toBe(true);
  });
});
