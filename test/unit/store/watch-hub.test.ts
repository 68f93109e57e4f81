import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../../src/store/engine.js';
import { compileSelection } from '../../../src/store/selection.js';
import type { WatchEvent } from '../../../src/store/types.js';
import { toWatchEvent, WatchHub } from '../../../src/store/watch-hub.js';

const R = 'berth.dev/containers';

function ev(revision: number, type: StoredEvent['type'], name: string, labels?: Record<string, string>, prevLabels?: Record<string, string>): StoredEvent {
  const doc = (l: Record<string, string> | undefined, rv: number) =>
    JSON.stringify({ apiVersion: 'v1', kind: 'X', metadata: { name, namespace: 'ns', labels: l, resourceVersion: String(rv) } });
  const e: StoredEvent = { revision, type, resource: R, namespace: 'ns', name, value: doc(labels, revision) };
  if (prevLabels) e.prev = doc(prevLabels, revision - 1);
  return e;
}

/** Resolves once `n` events arrived (the hub delivers asynchronously). */
function sink(n: number) {
  const got: WatchEvent[] = [];
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  return {
    got,
    done,
    onEvent: (e: WatchEvent) => {
      got.push(e);
      if (got.length === n) resolve();
    },
  };
}

describe('toWatchEvent', () => {
  const web = compileSelection({ labelSelector: 'app=web' });
  it('follows the Kubernetes rules for objects crossing a selector', () => {
    expect(toWatchEvent(ev(1, 'ADDED', 'a', { app: 'web' }), web)?.type).toBe('ADDED');
    expect(toWatchEvent(ev(1, 'ADDED', 'a', { app: 'db' }), web)).toBeUndefined();
    expect(toWatchEvent(ev(2, 'MODIFIED', 'a', { app: 'web' }, { app: 'web' }), web)?.type).toBe('MODIFIED');
    expect(toWatchEvent(ev(2, 'MODIFIED', 'a', { app: 'web' }, { app: 'db' }), web)?.type).toBe('ADDED');
    expect(toWatchEvent(ev(2, 'MODIFIED', 'a', { app: 'db' }, { app: 'db' }), web)).toBeUndefined();
    const left = toWatchEvent(ev(5, 'MODIFIED', 'a', { app: 'db' }, { app: 'web' }), web);
    expect(left?.type).toBe('DELETED');
    expect(left?.object.metadata.labels).toEqual({ app: 'web' });
    expect(left?.object.metadata.resourceVersion).toBe('5');
    expect(left?.revision).toBe(5);
    expect(toWatchEvent(ev(3, 'DELETED', 'a', { app: 'web' }), web)?.type).toBe('DELETED');
    expect(toWatchEvent(ev(3, 'DELETED', 'a', { app: 'db' }), web)).toBeUndefined();
  });

  it('filters by namespace without parsing', () => {
    expect(toWatchEvent(ev(1, 'ADDED', 'a'), compileSelection({ namespace: 'other' }))).toBeUndefined();
    expect(toWatchEvent(ev(1, 'ADDED', 'a'), compileSelection({ namespace: 'ns' }))?.type).toBe('ADDED');
  });
});

describe('WatchHub', () => {
  it('delivers replay then live events in order, skipping live events the replay already held', async () => {
    const hub = new WatchHub();
    const s = sink(4);
    const w = hub.subscribe({
      resource: R,
      selection: compileSelection({}),
      fromRevision: 0,
      replay: [ev(1, 'ADDED', 'a'), ev(2, 'ADDED', 'b')],
      onEvent: s.onEvent,
    });
    hub.publish(ev(2, 'ADDED', 'b'));
    hub.publish(ev(3, 'ADDED', 'c'));
    hub.publish({ ...ev(4, 'ADDED', 'x'), resource: 'other/things' });
    hub.publish(ev(5, 'ADDED', 'd'));
    await s.done;
    expect(s.got.map((e) => e.revision)).toEqual([1, 2, 3, 5]);
    w.stop();
    expect(hub.size()).toBe(0);
  });

  it('never calls a handler during publish, so writers do not wait for watchers', async () => {
    const hub = new WatchHub();
    const s = sink(1);
    hub.subscribe({ resource: R, selection: compileSelection({}), fromRevision: 0, replay: [], onEvent: s.onEvent });
    hub.publish(ev(1, 'ADDED', 'a'));
    expect(s.got).toHaveLength(0);
    await s.done;
    expect(s.got).toHaveLength(1);
  });

  it('delivers large backlogs in batches without losing order', async () => {
    const hub = new WatchHub({ batchSize: 7 });
    const s = sink(100);
    const replay = Array.from({ length: 50 }, (_, i) => ev(i + 1, 'ADDED', `r${i}`));
    hub.subscribe({ resource: R, selection: compileSelection({}), fromRevision: 0, replay, onEvent: s.onEvent });
    for (let i = 51; i <= 100; i++) hub.publish(ev(i, 'ADDED', `l${i}`));
    await s.done;
    expect(s.got.map((e) => e.revision)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it('cuts off a watcher that falls too far behind, through onError', async () => {
    const hub = new WatchHub({ maxPending: 3 });
    const errors: Error[] = [];
    let delivered = 0;
    hub.subscribe({
      resource: R,
      selection: compileSelection({}),
      fromRevision: 0,
      replay: [],
      onEvent: () => delivered++,
      onError: (e) => errors.push(e),
    });
    for (let i = 1; i <= 5; i++) hub.publish(ev(i, 'ADDED', `o${i}`));
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toMatch(/fell more than 3 events behind/);
    expect(hub.size()).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(delivered).toBe(0);
  });

  it('ends every watch on closeAll', () => {
    const hub = new WatchHub();
    const errors: string[] = [];
    for (let i = 0; i < 3; i++) {
      hub.subscribe({
        resource: i ? R : 'other/x',
        selection: compileSelection({}),
        fromRevision: 0,
        replay: [],
        onEvent: () => {},
        onError: (e) => errors.push(e.message),
      });
    }
    hub.closeAll(new Error('closing'));
    expect(errors).toEqual(['closing', 'closing', 'closing']);
    expect(hub.size()).toBe(0);
  });
});
