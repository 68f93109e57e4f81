import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApiObject } from '../src/api/meta.js';
import {
  AlreadyExistsError,
  ConflictError,
  InvalidContinueError,
  NotFoundError,
  SelectorError,
  StoreError,
  TooOldError,
  type ObjectKey,
  type Store,
  type Watch,
  type WatchEvent,
  type WatchOptions,
} from '../src/store/types.js';

/**
 * The behaviour every Store backend must show. A backend's test file calls
 * storeConformance('name', factory). The factory returns a fresh, empty store; `cleanup` closes
 * whatever store is open and removes its data; `reopen` (for persistent backends) closes the
 * current store if still open and returns a new one on the same data.
 *
 * Nothing here assumes a starting revision or consecutive revisions, only one strictly
 * increasing revision shared by all resources.
 */
export interface StoreFixture {
  store: Store;
  cleanup: () => Promise<void>;
  reopen?: () => Promise<Store>;
}

const C = 'berth.dev/containers';
const I = 'berth.dev/images';
const N = 'core/nodes';

/** How long a test waits for an expected event before failing with what it did see. */
const EVENT_GUARD_MS = 10_000;

interface ObjOpts {
  labels?: Record<string, string>;
  spec?: Record<string, unknown>;
  resourceVersion?: string;
}

function obj(namespace: string, name: string, opts: ObjOpts = {}): ApiObject {
  const metadata: ApiObject['metadata'] = { name };
  if (namespace) metadata.namespace = namespace;
  if (opts.labels) metadata.labels = opts.labels;
  if (opts.resourceVersion) metadata.resourceVersion = opts.resourceVersion;
  return { apiVersion: 'berth.dev/v1alpha1', kind: 'Container', metadata, spec: opts.spec ?? { image: 'busybox' } };
}

function key(resource: string, namespace: string, name: string): ObjectKey {
  return { resource, namespace, name };
}

function rv(o: ApiObject): number {
  return Number(o.metadata.resourceVersion);
}

function names(items: ApiObject[]): string[] {
  return items.map((o) => (o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name));
}

function show(e: WatchEvent): string {
  const ns = e.object.metadata.namespace;
  return `${e.type} ${ns ? `${ns}/` : ''}${e.object.metadata.name}@${e.revision}`;
}

interface Collector {
  events: WatchEvent[];
  errors: Error[];
  watch: Watch;
  /** Resolves once pred holds; fails (after a generous guard) listing what arrived. */
  until(pred: (events: WatchEvent[]) => boolean, what: string): Promise<void>;
}

async function collect(store: Store, resource: string, opts: WatchOptions): Promise<Collector> {
  const events: WatchEvent[] = [];
  const errors: Error[] = [];
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of [...waiters]) w();
  };
  const watch = await store.watch(
    resource,
    opts,
    (e) => {
      events.push(e);
      notify();
    },
    (err) => {
      errors.push(err);
      notify();
    },
  );
  const until = (pred: (events: WatchEvent[]) => boolean, what: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (pred(events)) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`watch never saw ${what}; got [${events.map(show).join(', ')}] errors [${errors.join('; ')}]`));
      }, EVENT_GUARD_MS);
      waiters.add(check);
      check();
    });
  return { events, errors, watch, until };
}

let sentinelSeq = 0;

/**
 * Writes a sentinel object the watch will see and waits for it, then returns every event that
 * arrived before it (other sentinels left out). Since events arrive in revision order, this
 * proves nothing else is pending.
 */
async function settle(store: Store, c: Collector, resource: string, namespace: string, labels?: Record<string, string>) {
  const name = `zz-sentinel-${++sentinelSeq}`;
  const created = await store.create(key(resource, namespace, name), obj(namespace, name, { labels }));
  await c.until((evs) => evs.some((e) => e.revision === rv(created)), `sentinel ${name}@${rv(created)}`);
  const idx = c.events.findIndex((e) => e.revision === rv(created));
  return c.events.slice(0, idx).filter((e) => !e.object.metadata.name.startsWith('zz-sentinel-'));
}

export function storeConformance(name: string, makeStore: () => Promise<StoreFixture>): void {
  describe(`Store conformance: ${name}`, () => {
    let fx: StoreFixture;
    let store: Store;
    const watches: Watch[] = [];

    beforeEach(async () => {
      fx = await makeStore();
      store = fx.store;
    });

    afterEach(async () => {
      for (const w of watches.splice(0)) w.stop();
      await fx.cleanup();
    });

    async function watchAll(resource: string, opts: WatchOptions): Promise<Collector> {
      const c = await collect(store, resource, opts);
      watches.push(c.watch);
      return c;
    }

    describe('create and get', () => {
      it('sets resourceVersion to the write revision and get returns the stored object', async () => {
        const before = await store.revision();
        const created = await store.create(key(C, 'default', 'web'), obj('default', 'web', { labels: { app: 'web' } }));
        expect(rv(created)).toBeGreaterThan(before);
        expect(await store.revision()).toBe(rv(created));
        expect(created.metadata).toMatchObject({ name: 'web', namespace: 'default', labels: { app: 'web' } });
        expect(created.spec).toEqual({ image: 'busybox' });
        expect(await store.get(key(C, 'default', 'web'))).toEqual(created);
      });

      it('overrides a resourceVersion supplied by the caller', async () => {
        const created = await store.create(key(C, 'default', 'a'), obj('default', 'a', { resourceVersion: '999999' }));
        expect(created.metadata.resourceVersion).toBe(String(await store.revision()));
      });

      it('returns undefined for a missing object', async () => {
        expect(await store.get(key(C, 'default', 'nope'))).toBeUndefined();
        await store.create(key(C, 'default', 'a'), obj('default', 'a'));
        expect(await store.get(key(C, 'other', 'a'))).toBeUndefined();
        expect(await store.get(key(I, 'default', 'a'))).toBeUndefined();
      });

      it('rejects a second create of the same key with AlreadyExistsError and writes nothing', async () => {
        const first = await store.create(key(C, 'default', 'a'), obj('default', 'a', { spec: { image: 'one' } }));
        const revision = await store.revision();
        await expect(store.create(key(C, 'default', 'a'), obj('default', 'a', { spec: { image: 'two' } }))).rejects.toBeInstanceOf(
          AlreadyExistsError,
        );
        expect(await store.revision()).toBe(revision);
        expect(await store.get(key(C, 'default', 'a'))).toEqual(first);
      });

      it('keeps the same name apart across namespaces and resources', async () => {
        const a = await store.create(key(C, 'ns1', 'x'), obj('ns1', 'x', { spec: { n: 1 } }));
        const b = await store.create(key(C, 'ns2', 'x'), obj('ns2', 'x', { spec: { n: 2 } }));
        const c = await store.create(key(I, 'ns1', 'x'), obj('ns1', 'x', { spec: { n: 3 } }));
        expect((await store.get(key(C, 'ns1', 'x')))?.spec).toEqual({ n: 1 });
        expect((await store.get(key(C, 'ns2', 'x')))?.spec).toEqual({ n: 2 });
        expect((await store.get(key(I, 'ns1', 'x')))?.spec).toEqual({ n: 3 });
        expect(new Set([rv(a), rv(b), rv(c)]).size).toBe(3);
      });

      it('stores cluster-scoped objects under namespace ""', async () => {
        const node = await store.create(key(N, '', 'node-1'), obj('', 'node-1'));
        expect(node.metadata.namespace).toBeUndefined();
        expect(await store.get(key(N, '', 'node-1'))).toEqual(node);
        expect(names((await store.list(N)).items)).toEqual(['node-1']);
      });

      it('rejects an object whose metadata disagrees with its key', async () => {
        await expect(store.create(key(C, 'default', 'a'), obj('default', 'b'))).rejects.toThrow(/metadata\.name/);
        await expect(store.create(key(C, 'default', 'a'), obj('other', 'a'))).rejects.toThrow(/metadata\.namespace/);
        await expect(store.create(key(C, 'default', 'a'), obj('other', 'a'))).rejects.toBeInstanceOf(StoreError);
        expect(await store.get(key(C, 'default', 'a'))).toBeUndefined();
      });
    });

    describe('update', () => {
      it('replaces the object when resourceVersion matches and moves it to a new revision', async () => {
        const created = await store.create(key(C, 'default', 'a'), obj('default', 'a'));
        const next = { ...created, spec: { image: 'nginx' } };
        const updated = await store.update(key(C, 'default', 'a'), next, created.metadata.resourceVersion as string);
        expect(rv(updated)).toBeGreaterThan(rv(created));
        expect(updated.spec).toEqual({ image: 'nginx' });
        expect(await store.get(key(C, 'default', 'a'))).toEqual(updated);
        expect(await store.revision()).toBe(rv(updated));
      });

      it('fails with ConflictError naming both versions when resourceVersion is stale', async () => {
        const created = await store.create(key(C, 'default', 'a'), obj('default', 'a'));
        const updated = await store.update(key(C, 'default', 'a'), created, String(rv(created)));
        const revision = await store.revision();
        const err = await store
          .update(key(C, 'default', 'a'), { ...created, spec: { image: 'stale' } }, String(rv(created)))
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ConflictError);
        expect((err as Error).message).toContain(String(rv(created)));
        expect((err as Error).message).toContain(String(rv(updated)));
        expect(await store.revision()).toBe(revision);
        expect(await store.get(key(C, 'default', 'a'))).toEqual(updated);
      });

      it('fails with ConflictError for a resourceVersion that is not a revision', async () => {
        const created = await store.create(key(C, 'default', 'a'), obj('default', 'a'));
        await expect(store.update(key(C, 'default', 'a'), created, '')).rejects.toBeInstanceOf(ConflictError);
        await expect(store.update(key(C, 'default', 'a'), created, 'abc')).rejects.toBeInstanceOf(ConflictError);
      });

      it('fails with NotFoundError when the object does not exist', async () => {
        await expect(store.update(key(C, 'default', 'ghost'), obj('default', 'ghost'), '1')).rejects.toBeInstanceOf(NotFoundError);
        expect(await store.get(key(C, 'default', 'ghost'))).toBeUndefined();
      });
    });

    describe('delete', () => {
      it('removes the object and returns it with the deletion revision', async () => {
        const created = await store.create(key(C, 'default', 'a'), obj('default', 'a', { labels: { x: 'y' } }));
        const deleted = await store.delete(key(C, 'default', 'a'));
        expect(rv(deleted)).toBeGreaterThan(rv(created));
        expect(await store.revision()).toBe(rv(deleted));
        expect(deleted.metadata.labels).toEqual({ x: 'y' });
        expect(deleted.spec).toEqual(created.spec);
        expect(await store.get(key(C, 'default', 'a'))).toBeUndefined();
      });

      it('fails with NotFoundError for a missing object', async () => {
        await expect(store.delete(key(C, 'default', 'ghost'))).rejects.toBeInstanceOf(NotFoundError);
      });

      it('checks resourceVersion when one is given', async () => {
        const created = await store.create(key(C, 'default', 'a'), obj('default', 'a'));
        const updated = await store.update(key(C, 'default', 'a'), created, String(rv(created)));
        const err = await store.delete(key(C, 'default', 'a'), String(rv(created))).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ConflictError);
        expect((err as Error).message).toContain(String(rv(updated)));
        expect(await store.get(key(C, 'default', 'a'))).toEqual(updated);
        const deleted = await store.delete(key(C, 'default', 'a'), String(rv(updated)));
        expect(rv(deleted)).toBeGreaterThan(rv(updated));
        expect(await store.get(key(C, 'default', 'a'))).toBeUndefined();
      });

      it('lets a deleted name be created again', async () => {
        const first = await store.create(key(C, 'default', 'a'), obj('default', 'a'));
        await store.delete(key(C, 'default', 'a'));
        const again = await store.create(key(C, 'default', 'a'), obj('default', 'a', { spec: { image: 'again' } }));
        expect(rv(again)).toBeGreaterThan(rv(first));
        expect((await store.get(key(C, 'default', 'a')))?.spec).toEqual({ image: 'again' });
      });
    });

    describe('revisions', () => {
      it('are one strictly increasing sequence across resources and namespaces', async () => {
        const seen: number[] = [];
        seen.push(rv(await store.create(key(C, 'a', 'x'), obj('a', 'x'))));
        seen.push(rv(await store.create(key(I, 'a', 'x'), obj('a', 'x'))));
        seen.push(rv(await store.create(key(N, '', 'n1'), obj('', 'n1'))));
        const x = (await store.get(key(C, 'a', 'x'))) as ApiObject;
        seen.push(rv(await store.update(key(C, 'a', 'x'), x, String(rv(x)))));
        seen.push(rv(await store.create(key(C, 'b', 'x'), obj('b', 'x'))));
        seen.push(rv(await store.delete(key(I, 'a', 'x'))));
        for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1] as number);
        expect(await store.revision()).toBe(seen[seen.length - 1]);
      });

      it('do not move on failed writes', async () => {
        const a = await store.create(key(C, 'default', 'a'), obj('default', 'a'));
        const revision = await store.revision();
        await expect(store.create(key(C, 'default', 'a'), obj('default', 'a'))).rejects.toThrow();
        await expect(store.update(key(C, 'default', 'a'), a, '0')).rejects.toThrow();
        await expect(store.update(key(C, 'default', 'zz'), obj('default', 'zz'), '1')).rejects.toThrow();
        await expect(store.delete(key(C, 'default', 'zz'))).rejects.toThrow();
        await expect(store.delete(key(C, 'default', 'a'), '0')).rejects.toThrow();
        expect(await store.revision()).toBe(revision);
      });
    });

    describe('copies', () => {
      it('never shares objects with callers', async () => {
        const input = obj('default', 'a', { labels: { app: 'web' }, spec: { image: 'busybox', env: [{ name: 'A' }] } });
        const created = await store.create(key(C, 'default', 'a'), input);
        const pristine = structuredClone(created);
        (input.metadata.labels as Record<string, string>).app = 'mutated-input';
        (input.spec as { env: { name: string }[] }).env.push({ name: 'B' });
        (created.metadata.labels as Record<string, string>).app = 'mutated-create';
        const got = (await store.get(key(C, 'default', 'a'))) as ApiObject;
        expect(got).toEqual(pristine);
        got.metadata.name = 'mutated-get';
        const listed = (await store.list(C)).items[0] as ApiObject;
        expect(listed).toEqual(pristine);
        listed.spec = 'mutated-list';
        const updated = await store.update(key(C, 'default', 'a'), structuredClone(pristine), String(rv(pristine)));
        const updatedPristine = structuredClone(updated);
        (updated.spec as { image: string }).image = 'mutated-update';
        expect(await store.get(key(C, 'default', 'a'))).toEqual(updatedPristine);
        expect((await store.list(C, { labelSelector: 'app=web' })).items).toEqual([updatedPristine]);
      });

      it('gives every watcher its own copy of each event', async () => {
        const start = await store.revision();
        const mutator = await store.watch(C, { fromRevision: start }, (e) => {
          e.object.metadata.labels = { app: 'mutated' };
          e.object.spec = 'mutated';
        });
        watches.push(mutator);
        const w2 = await watchAll(C, { fromRevision: start, labelSelector: 'app=web' });
        const created = await store.create(key(C, 'default', 'a'), obj('default', 'a', { labels: { app: 'web' } }));
        await w2.until((evs) => evs.length === 1, 'the ADDED event');
        expect(w2.events[0]?.object).toEqual(created);
        expect(await store.get(key(C, 'default', 'a'))).toEqual(created);
      });
    });

    describe('list', () => {
      async function seed() {
        const specs: [string, string, Record<string, string>, Record<string, unknown>][] = [
          ['prod', 'web', { app: 'web', tier: 'front' }, { nodeName: 'n1' }],
          ['dev', 'db', { app: 'db', tier: 'back' }, { nodeName: 'n2' }],
          ['prod', 'db', { app: 'db', tier: 'back', critical: 'true' }, { nodeName: 'n1' }],
          ['dev', 'web', { app: 'web' }, {}],
          ['prod', 'cache', { app: 'cache', tier: 'back' }, { nodeName: 'n2' }],
          ['default', 'job', {}, {}],
        ];
        for (const [ns, n, labels, spec] of specs) {
          await store.create(key(C, ns, n), obj(ns, n, { labels, spec }));
        }
        await store.create(key(I, 'prod', 'other-resource'), obj('prod', 'other-resource', { labels: { app: 'web' } }));
      }

      it('returns one resource sorted by namespace then name, with the current revision', async () => {
        await seed();
        const all = await store.list(C);
        expect(names(all.items)).toEqual(['default/job', 'dev/db', 'dev/web', 'prod/cache', 'prod/db', 'prod/web']);
        expect(all.resourceVersion).toBe(String(await store.revision()));
        expect(all.continue).toBeUndefined();
        expect(all.remainingItemCount).toBeUndefined();
        expect(names((await store.list(C, { namespace: '' })).items)).toHaveLength(6);
      });

      it('filters by namespace', async () => {
        await seed();
        expect(names((await store.list(C, { namespace: 'prod' })).items)).toEqual(['prod/cache', 'prod/db', 'prod/web']);
        expect((await store.list(C, { namespace: 'nowhere' })).items).toEqual([]);
      });

      it('reports the global revision even for an empty list or after writes elsewhere', async () => {
        await store.create(key(I, 'x', 'y'), obj('x', 'y'));
        const empty = await store.list(C);
        expect(empty.items).toEqual([]);
        expect(empty.resourceVersion).toBe(String(await store.revision()));
      });

      it.each([
        ['app=web', ['dev/web', 'prod/web']],
        ['app==web', ['dev/web', 'prod/web']],
        ['app!=web', ['default/job', 'dev/db', 'prod/cache', 'prod/db']],
        ['app in (db, cache)', ['dev/db', 'prod/cache', 'prod/db']],
        ['app notin (db,cache)', ['default/job', 'dev/web', 'prod/web']],
        ['tier', ['dev/db', 'prod/cache', 'prod/db', 'prod/web']],
        ['!tier', ['default/job', 'dev/web']],
        ['app=db,critical', ['prod/db']],
        ['tier=back,app!=db', ['prod/cache']],
        ['tier in (back),!critical', ['dev/db', 'prod/cache']],
        ['', ['default/job', 'dev/db', 'dev/web', 'prod/cache', 'prod/db', 'prod/web']],
      ])('selects labels with %j', async (selector, expected) => {
        await seed();
        expect(names((await store.list(C, { labelSelector: selector })).items)).toEqual(expected);
      });

      it.each([
        ['metadata.name=web', ['dev/web', 'prod/web']],
        ['metadata.name==db,metadata.namespace=prod', ['prod/db']],
        ['metadata.namespace!=prod', ['default/job', 'dev/db', 'dev/web']],
        ['spec.nodeName=n1', ['prod/db', 'prod/web']],
        ['spec.nodeName!=n1', ['default/job', 'dev/db', 'dev/web', 'prod/cache']],
        ['spec.nodeName=', ['default/job', 'dev/web']],
        ['spec.nodeName=n2,metadata.namespace=prod', ['prod/cache']],
      ])('selects fields with %j', async (selector, expected) => {
        await seed();
        expect(names((await store.list(C, { fieldSelector: selector })).items)).toEqual(expected);
      });

      it('combines namespace, label and field selectors', async () => {
        await seed();
        const r = await store.list(C, { namespace: 'prod', labelSelector: 'tier=back', fieldSelector: 'spec.nodeName=n2' });
        expect(names(r.items)).toEqual(['prod/cache']);
      });

      it.each([
        ['app in web', 'app'],
        ['app in (web', 'app'],
        ['app notin ()', 'app'],
        ['=web', '='],
        ['app=web,', "','"],
        ['app=(x)', 'app'],
        ['a b', 'b'],
        ['bad key!=x', 'key'],
        ['-app=x', '-app'],
        ['app=-x', '-x'],
        [`${'k'.repeat(64)}=v`, 'k'.repeat(64)],
        ['app>1', '>'],
      ])('rejects label selector %j with a SelectorError naming %j', async (selector, part) => {
        const err = await store.list(C, { labelSelector: selector }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(SelectorError);
        expect((err as Error).message).toContain(part);
      });

      it.each([
        ['metadata.name', 'metadata.name'],
        ['=x', '=x'],
        ['a..b=x', 'a..b'],
        ['metadata.name=x,,spec.a=b', 'empty'],
        ['metadata.name=a\\b', '\\b'],
      ])('rejects field selector %j with a SelectorError naming %j', async (selector, part) => {
        const err = await store.list(C, { fieldSelector: selector }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(SelectorError);
        expect((err as Error).message).toContain(part);
      });
    });

    describe('list paging', () => {
      async function seedMany(n: number, namespaces = ['a', 'b']) {
        const created: ApiObject[] = [];
        for (let i = 0; i < n; i++) {
          const ns = namespaces[i % namespaces.length] as string;
          const nm = `obj-${String(i).padStart(3, '0')}`;
          created.push(await store.create(key(C, ns, nm), obj(ns, nm, { labels: { parity: i % 2 ? 'odd' : 'even' } })));
        }
        return created;
      }

      async function pageAll(opts: { limit: number; namespace?: string; labelSelector?: string }) {
        const pages: { names: string[]; rv: string; remaining?: number; hasMore: boolean }[] = [];
        let token: string | undefined;
        do {
          const r = await store.list(C, { ...opts, continue: token });
          pages.push({ names: names(r.items), rv: r.resourceVersion, remaining: r.remainingItemCount, hasMore: !!r.continue });
          token = r.continue;
        } while (token);
        return pages;
      }

      it('walks the whole list in order with limit and continue', async () => {
        await seedMany(10);
        const full = names((await store.list(C)).items);
        const pages = await pageAll({ limit: 3 });
        expect(pages.map((p) => p.names.length)).toEqual([3, 3, 3, 1]);
        expect(pages.flatMap((p) => p.names)).toEqual(full);
        expect(pages.map((p) => p.remaining)).toEqual([7, 4, 1, undefined]);
        expect(pages.map((p) => p.hasMore)).toEqual([true, true, true, false]);
        expect(new Set(pages.map((p) => p.rv)).size).toBe(1);
        expect(pages[0]?.rv).toBe(String(await store.revision()));
      });

      it('returns everything without a token when the limit is not reached', async () => {
        await seedMany(4);
        const r = await store.list(C, { limit: 4 });
        expect(r.items).toHaveLength(4);
        expect(r.continue).toBeUndefined();
        const r2 = await store.list(C, { limit: 100 });
        expect(r2.items).toHaveLength(4);
        expect(r2.continue).toBeUndefined();
      });

      it('pages within a namespace and a label selector', async () => {
        await seedMany(20);
        const full = names((await store.list(C, { namespace: 'a', labelSelector: 'parity=even' })).items);
        expect(full).toHaveLength(10);
        const pages = await pageAll({ limit: 4, namespace: 'a', labelSelector: 'parity=even' });
        expect(pages.flatMap((p) => p.names)).toEqual(full);
        expect(pages.map((p) => p.names.length)).toEqual([4, 4, 2]);
      });

      it('shows later changes ahead of the cursor while paging', async () => {
        await seedMany(6, ['a']);
        const first = await store.list(C, { limit: 3 });
        expect(names(first.items)).toEqual(['a/obj-000', 'a/obj-001', 'a/obj-002']);
        await store.create(key(C, 'a', 'obj-001a'), obj('a', 'obj-001a'));
        await store.create(key(C, 'a', 'obj-004a'), obj('a', 'obj-004a'));
        await store.delete(key(C, 'a', 'obj-005'));
        const second = await store.list(C, { limit: 3, continue: first.continue });
        expect(names(second.items)).toEqual(['a/obj-003', 'a/obj-004', 'a/obj-004a']);
        expect(second.resourceVersion).toBe(first.resourceVersion);
        expect(second.continue).toBeUndefined();
      });

      it('rejects continue tokens it did not issue with InvalidContinueError', async () => {
        await seedMany(3);
        const forged = Buffer.from('{"hello":"world"}').toString('base64url');
        for (const token of ['garbage!', 'bm90IGpzb24', forged, '%%%']) {
          await expect(store.list(C, { limit: 1, continue: token })).rejects.toBeInstanceOf(InvalidContinueError);
        }
      });
    });

    describe('watch', () => {
      it('replays history from a revision, then streams live events, in order', async () => {
        const start = await store.revision();
        const a = await store.create(key(C, 'default', 'a'), obj('default', 'a'));
        const b = await store.create(key(C, 'default', 'b'), obj('default', 'b'));
        const a2 = await store.update(key(C, 'default', 'a'), { ...a, spec: { image: 'v2' } }, String(rv(a)));
        const bDel = await store.delete(key(C, 'default', 'b'));
        const w = await watchAll(C, { fromRevision: start });
        await w.until((evs) => evs.length >= 4, 'four replayed events');
        const c = await store.create(key(C, 'default', 'c'), obj('default', 'c'));
        const c2 = await store.update(key(C, 'default', 'c'), c, String(rv(c)));
        const seen = await settle(store, w, C, 'default');
        expect(seen.map(show)).toEqual([
          `ADDED default/a@${rv(a)}`,
          `ADDED default/b@${rv(b)}`,
          `MODIFIED default/a@${rv(a2)}`,
          `DELETED default/b@${rv(bDel)}`,
          `ADDED default/c@${rv(c)}`,
          `MODIFIED default/c@${rv(c2)}`,
        ]);
        for (const e of seen) expect(e.object.metadata.resourceVersion).toBe(String(e.revision));
        expect(seen[2]?.object.spec).toEqual({ image: 'v2' });
        expect(seen[3]?.object).toEqual(bDel);
        expect(w.errors).toEqual([]);
      });

      it('starts after the given revision', async () => {
        await store.create(key(C, 'default', 'a'), obj('default', 'a'));
        const b = await store.create(key(C, 'default', 'b'), obj('default', 'b'));
        const c = await store.create(key(C, 'default', 'c'), obj('default', 'c'));
        const fromMiddle = await watchAll(C, { fromRevision: rv(b) });
        const fromNow = await watchAll(C, { fromRevision: await store.revision() });
        const d = await store.create(key(C, 'default', 'd'), obj('default', 'd'));
        expect((await settle(store, fromMiddle, C, 'default')).map(show)).toEqual([
          `ADDED default/c@${rv(c)}`,
          `ADDED default/d@${rv(d)}`,
        ]);
        expect((await settle(store, fromNow, C, 'default')).map(show)).toEqual([`ADDED default/d@${rv(d)}`]);
      });

      it('sees only its own resource and namespace', async () => {
        const start = await store.revision();
        const w = await watchAll(C, { fromRevision: start, namespace: 'prod' });
        await store.create(key(C, 'dev', 'a'), obj('dev', 'a'));
        const p = await store.create(key(C, 'prod', 'a'), obj('prod', 'a'));
        await store.create(key(I, 'prod', 'b'), obj('prod', 'b'));
        await store.create(key(N, '', 'n1'), obj('', 'n1'));
        await store.delete(key(C, 'dev', 'a'));
        const pDel = await store.delete(key(C, 'prod', 'a'));
        expect((await settle(store, w, C, 'prod')).map(show)).toEqual([`ADDED prod/a@${rv(p)}`, `DELETED prod/a@${rv(pDel)}`]);
      });

      it('turns objects entering or leaving a label selector into ADDED and DELETED', async () => {
        const start = await store.revision();
        const w = await watchAll(C, { fromRevision: start, labelSelector: 'app=web' });
        const a = await store.create(key(C, 'default', 'a'), obj('default', 'a', { labels: { app: 'web' } }));
        const b = await store.create(key(C, 'default', 'b'), obj('default', 'b', { labels: { app: 'db' } }));
        const a2 = await store.update(key(C, 'default', 'a'), { ...a, spec: { image: 'v2' } }, String(rv(a)));
        const aOut = await store.update(
          key(C, 'default', 'a'),
          { ...a2, metadata: { ...a2.metadata, labels: { app: 'db' } } },
          String(rv(a2)),
        );
        const bIn = await store.update(
          key(C, 'default', 'b'),
          { ...b, metadata: { ...b.metadata, labels: { app: 'web' } } },
          String(rv(b)),
        );
        await store.delete(key(C, 'default', 'a'));
        const bDel = await store.delete(key(C, 'default', 'b'));
        const seen = await settle(store, w, C, 'default', { app: 'web' });
        expect(seen.map(show)).toEqual([
          `ADDED default/a@${rv(a)}`,
          `MODIFIED default/a@${rv(a2)}`,
          `DELETED default/a@${rv(aOut)}`,
          `ADDED default/b@${rv(bIn)}`,
          `DELETED default/b@${rv(bDel)}`,
        ]);
        // Leaving the selector: the last state that matched, at the revision of the change.
        expect(seen[2]?.object.metadata.labels).toEqual({ app: 'web' });
        expect(seen[2]?.object.spec).toEqual({ image: 'v2' });
        expect(seen[2]?.object.metadata.resourceVersion).toBe(String(rv(aOut)));
        // Replay applies the same rules.
        const replay = await watchAll(C, { fromRevision: start, labelSelector: 'app=web' });
        expect((await settle(store, replay, C, 'default', { app: 'web' })).map(show)).toEqual(seen.map(show));
      });

      it('filters by field selector, including objects that move into it', async () => {
        const start = await store.revision();
        const w = await watchAll(C, { fromRevision: start, fieldSelector: 'spec.nodeName=n1' });
        const a = await store.create(key(C, 'default', 'a'), obj('default', 'a', { spec: {} }));
        await store.create(key(C, 'default', 'b'), obj('default', 'b', { spec: { nodeName: 'n2' } }));
        const scheduled = await store.update(key(C, 'default', 'a'), { ...a, spec: { nodeName: 'n1' } }, String(rv(a)));
        const gone = await store.delete(key(C, 'default', 'a'));
        const sentinel = await store.create(key(C, 'default', 'zz'), obj('default', 'zz', { spec: { nodeName: 'n1' } }));
        await w.until((evs) => evs.some((e) => e.revision === rv(sentinel)), 'the sentinel');
        expect(w.events.map(show)).toEqual([
          `ADDED default/a@${rv(scheduled)}`,
          `DELETED default/a@${rv(gone)}`,
          `ADDED default/zz@${rv(sentinel)}`,
        ]);
      });

      it('rejects bad selectors and revisions before starting', async () => {
        await expect(store.watch(C, { fromRevision: 0, labelSelector: 'app in' }, () => {})).rejects.toBeInstanceOf(SelectorError);
        await expect(store.watch(C, { fromRevision: 0, fieldSelector: 'nope' }, () => {})).rejects.toBeInstanceOf(SelectorError);
        await expect(store.watch(C, { fromRevision: -1 }, () => {})).rejects.toBeInstanceOf(StoreError);
      });

      it('stops delivering after stop()', async () => {
        const start = await store.revision();
        const stopped = await watchAll(C, { fromRevision: start });
        const live = await watchAll(C, { fromRevision: start });
        const a = await store.create(key(C, 'default', 'a'), obj('default', 'a'));
        await stopped.until((evs) => evs.length === 1, 'the first event');
        stopped.watch.stop();
        await store.create(key(C, 'default', 'b'), obj('default', 'b'));
        await settle(store, live, C, 'default');
        expect(stopped.events.map(show)).toEqual([`ADDED default/a@${rv(a)}`]);
      });

      it('resolves drained() only after every event offered so far was delivered', async () => {
        const start = await store.revision();
        const w = await watchAll(C, { fromRevision: start });
        await Promise.all(Array.from({ length: 50 }, (_, i) => store.create(key(C, 'drain', `d${i}`), obj('drain', `d${i}`))));
        const last = await store.revision();
        await w.watch.drained();
        expect(w.events.length).toBe(50);
        expect(Math.max(...w.events.map((e) => e.revision))).toBe(last);
        w.watch.stop();
      });

      it('ends only the watch whose handler throws, through onError', async () => {
        const start = await store.revision();
        const errors: Error[] = [];
        const bad = await store.watch(
          C,
          { fromRevision: start },
          () => {
            throw new Error('handler failed');
          },
          (err) => errors.push(err),
        );
        watches.push(bad);
        const good = await watchAll(C, { fromRevision: start });
        await store.create(key(C, 'default', 'a'), obj('default', 'a'));
        await store.create(key(C, 'default', 'b'), obj('default', 'b'));
        const seen = await settle(store, good, C, 'default');
        expect(seen).toHaveLength(2);
        expect(errors.map((e) => e.message)).toEqual(['handler failed']);
      });

      it('neither misses nor repeats an event when watches start during concurrent writes', async () => {
        const start = await store.revision();
        const writes: Promise<ApiObject>[] = [];
        const watchers: { from: number; c: Collector }[] = [];
        for (let i = 0; i < 60; i++) {
          const ns = i % 3 === 0 ? 'x' : 'y';
          writes.push(store.create(key(C, ns, `o${i}`), obj(ns, `o${i}`)));
          if (i % 3 === 0) writes.push(store.create(key(I, ns, `img${i}`), obj(ns, `img${i}`)));
          if (i % 10 === 5) {
            const from = i % 20 === 5 ? start : await store.revision();
            watchers.push({ from, c: await watchAll(C, { fromRevision: from }) });
          }
        }
        const results = await Promise.all(writes);
        const containerRevs = results.filter((o) => o.metadata.name.startsWith('o')).map(rv);
        for (const { from, c } of watchers) {
          const seen = await settle(store, c, C, 'x');
          const expected = containerRevs.filter((r) => r > from).sort((p, q) => p - q);
          expect(seen.map((e) => e.revision)).toEqual(expected);
          expect(seen.every((e) => e.type === 'ADDED')).toBe(true);
        }
        expect(watchers).toHaveLength(6);
      });
    });

    describe('compaction', () => {
      it('makes watches from before the compacted revision fail with TooOldError', async () => {
        const revs: number[] = [];
        for (let i = 0; i < 5; i++) revs.push(rv(await store.create(key(C, 'default', `o${i}`), obj('default', `o${i}`))));
        const cut = revs[2] as number;
        await store.compact(cut);
        expect(await store.compactedRevision()).toBe(cut);
        const err = await store.watch(C, { fromRevision: cut - 1 }, () => {}).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(TooOldError);
        expect(err).toMatchObject({ requested: cut - 1, compacted: cut });
        const w = await watchAll(C, { fromRevision: cut });
        expect((await settle(store, w, C, 'default')).map((e) => e.revision)).toEqual([revs[3], revs[4]]);
      });

      it('keeps the objects themselves', async () => {
        for (let i = 0; i < 3; i++) await store.create(key(C, 'default', `o${i}`), obj('default', `o${i}`));
        await store.compact(await store.revision());
        expect((await store.list(C)).items).toHaveLength(3);
        const w = await watchAll(C, { fromRevision: await store.revision() });
        const d = await store.create(key(C, 'default', 'o9'), obj('default', 'o9'));
        expect((await settle(store, w, C, 'default')).map(show)).toEqual([`ADDED default/o9@${rv(d)}`]);
      });

      it('never moves the compacted revision backwards and refuses future revisions', async () => {
        for (let i = 0; i < 3; i++) await store.create(key(C, 'default', `o${i}`), obj('default', `o${i}`));
        const current = await store.revision();
        await store.compact(current);
        await store.compact(current - 1);
        expect(await store.compactedRevision()).toBe(current);
        await expect(store.compact(current + 10)).rejects.toBeInstanceOf(StoreError);
        expect(await store.compactedRevision()).toBe(current);
      });

      it('allows watching from the compacted revision of a fresh store', async () => {
        const compacted = await store.compactedRevision();
        expect(compacted).toBeLessThanOrEqual(await store.revision());
        const w = await watchAll(C, { fromRevision: compacted });
        const a = await store.create(key(C, 'default', 'a'), obj('default', 'a'));
        expect((await settle(store, w, C, 'default')).map(show)).toEqual([`ADDED default/a@${rv(a)}`]);
      });
    });

    describe('count', () => {
      it('counts objects per resource', async () => {
        await store.create(key(C, 'a', 'x'), obj('a', 'x'));
        await store.create(key(C, 'b', 'x'), obj('b', 'x'));
        await store.create(key(I, 'a', 'x'), obj('a', 'x'));
        await store.create(key(N, '', 'n'), obj('', 'n'));
        expect(await store.count()).toEqual({ [C]: 2, [I]: 1, [N]: 1 });
        expect(await store.count(C)).toEqual({ [C]: 2 });
        await store.delete(key(C, 'a', 'x'));
        expect(await store.count(C)).toEqual({ [C]: 1 });
        expect(await store.count('berth.dev/volumes')).toEqual({ 'berth.dev/volumes': 0 });
      });
    });

    describe('concurrency', () => {
      it('gives many parallel creates distinct revisions', async () => {
        const created = await Promise.all(
          Array.from({ length: 50 }, (_, i) => store.create(key(i % 2 ? C : I, 'default', `o${i}`), obj('default', `o${i}`))),
        );
        const revs = created.map(rv);
        expect(new Set(revs).size).toBe(50);
        expect(await store.revision()).toBe(Math.max(...revs));
        expect((await store.list(C)).items).toHaveLength(25);
        expect((await store.list(I)).items).toHaveLength(25);
      });

      it('gives parallel updates of different objects distinct revisions', async () => {
        const created = await Promise.all(
          Array.from({ length: 20 }, (_, i) => store.create(key(C, 'default', `o${i}`), obj('default', `o${i}`))),
        );
        const updated = await Promise.all(created.map((o) => store.update(key(C, 'default', o.metadata.name), o, String(rv(o)))));
        const revs = updated.map(rv);
        expect(new Set([...revs, ...created.map(rv)]).size).toBe(40);
        expect(Math.min(...revs)).toBeGreaterThan(Math.max(...created.map(rv)));
      });

      it('lets exactly one of two racing compare-and-swap writes win', async () => {
        for (let round = 0; round < 10; round++) {
          const k = key(C, 'default', `race-${round}`);
          const base = await store.create(k, obj('default', k.name));
          const contenders = [
            store.update(k, { ...base, spec: { winner: 'one' } }, String(rv(base))),
            store.update(k, { ...base, spec: { winner: 'two' } }, String(rv(base))),
            round % 2 ? store.delete(k, String(rv(base))) : store.update(k, { ...base, spec: { winner: 'three' } }, String(rv(base))),
          ];
          const outcomes = await Promise.allSettled(contenders);
          const won = outcomes.filter((o) => o.status === 'fulfilled');
          const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
          expect(won).toHaveLength(1);
          expect(lost.every((o) => o.reason instanceof ConflictError)).toBe(true);
        }
      });

      it('lets exactly one of racing creates of one key win', async () => {
        const outcomes = await Promise.allSettled(
          Array.from({ length: 5 }, (_, i) => store.create(key(C, 'default', 'same'), obj('default', 'same', { spec: { n: i } }))),
        );
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
        const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
        expect(lost.every((o) => o.reason instanceof AlreadyExistsError)).toBe(true);
      });

      it('loses no increment when writers retry on conflict', async () => {
        const k = key(C, 'default', 'counter');
        await store.create(k, obj('default', 'counter', { spec: { count: 0 } }));
        const worker = async () => {
          for (let done = 0; done < 10; ) {
            const cur = (await store.get(k)) as ApiObject;
            const count = (cur.spec as { count: number }).count;
            try {
              await store.update(k, { ...cur, spec: { count: count + 1 } }, String(rv(cur)));
              done++;
            } catch (err) {
              if (!(err instanceof ConflictError)) throw err;
            }
          }
        };
        await Promise.all([worker(), worker(), worker(), worker()]);
        expect(((await store.get(k)) as ApiObject).spec).toEqual({ count: 40 });
      });
    });

    describe('close', () => {
      it('ends open watches and refuses further calls', async () => {
        const w = await collect(store, C, { fromRevision: await store.revision() });
        await store.close();
        await w.until(() => w.errors.length === 1, 'an error on close');
        await expect(store.get(key(C, 'default', 'a'))).rejects.toBeInstanceOf(StoreError);
        await expect(store.create(key(C, 'default', 'a'), obj('default', 'a'))).rejects.toBeInstanceOf(StoreError);
      });
    });

    describe('reopen', () => {
      it('keeps objects, history and revision numbering', async (ctx) => {
        if (!fx.reopen) {
          ctx.skip();
          return;
        }
        const a = await store.create(key(C, 'default', 'a'), obj('default', 'a', { labels: { app: 'web' } }));
        const b = await store.create(key(C, 'default', 'b'), obj('default', 'b'));
        const a2 = await store.update(key(C, 'default', 'a'), { ...a, spec: { image: 'v2' } }, String(rv(a)));
        const bDel = await store.delete(key(C, 'default', 'b'));
        await store.compact(rv(a));
        const last = await store.revision();
        await store.close();
        store = await fx.reopen();
        expect(await store.revision()).toBe(last);
        expect(await store.compactedRevision()).toBe(rv(a));
        expect(await store.get(key(C, 'default', 'a'))).toEqual(a2);
        expect(await store.get(key(C, 'default', 'b'))).toBeUndefined();
        const w = await watchAll(C, { fromRevision: rv(a) });
        const c = await store.create(key(C, 'default', 'c'), obj('default', 'c'));
        expect(rv(c)).toBeGreaterThan(last);
        expect((await settle(store, w, C, 'default')).map(show)).toEqual([
          `ADDED default/b@${rv(b)}`,
          `MODIFIED default/a@${rv(a2)}`,
          `DELETED default/b@${rv(bDel)}`,
          `ADDED default/c@${rv(c)}`,
        ]);
        await expect(store.watch(C, { fromRevision: rv(a) - 1 }, () => {})).rejects.toBeInstanceOf(TooOldError);
      });
    });
  });
}
