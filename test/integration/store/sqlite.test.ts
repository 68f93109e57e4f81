import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../../src/store/sqlite.js';
import { StoreError, type Store } from '../../../src/store/types.js';
import { storeConformance } from '../../store-conformance.js';

storeConformance('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-store-'));
  const path = join(dir, 'state', 'berth.db');
  let current: Store = new SqliteStore(path);
  return {
    store: current,
    cleanup: async () => {
      await current.close();
      await rm(dir, { recursive: true, force: true });
    },
    reopen: async () => {
      await current.close();
      current = await SqliteStore.open(path);
      return current;
    },
  };
});

describe('SqliteStore', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-sqlite-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates missing directories and uses WAL with synchronous=FULL', async () => {
    const path = join(dir, 'a', 'b', 'berth.db');
    const store = new SqliteStore(path);
    expect(await store.revision()).toBe(0);
    expect(await store.compactedRevision()).toBe(0);
    await store.create({ resource: 'r/x', namespace: '', name: 'n' }, { apiVersion: 'v1', kind: 'X', metadata: { name: 'n' } });
    expect((await stat(path)).isFile()).toBe(true);
    const db = new Database(path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    await store.close();
  });

  it('keeps objects, history and the revision in the documented tables', async () => {
    const path = join(dir, 'berth.db');
    const store = new SqliteStore(path);
    const k = { resource: 'berth.dev/containers', namespace: 'default', name: 'web' };
    const a = await store.create(k, { apiVersion: 'v1', kind: 'X', metadata: { name: 'web', namespace: 'default' } });
    await store.update(k, { ...a, spec: { n: 1 } }, a.metadata.resourceVersion as string);
    await store.delete(k);
    await store.close();
    const db = new Database(path, { readonly: true });
    const history = db.prepare('SELECT revision, type, prev IS NOT NULL AS hasPrev FROM history ORDER BY revision').all();
    expect(history).toEqual([
      { revision: 1, type: 'ADDED', hasPrev: 0 },
      { revision: 2, type: 'MODIFIED', hasPrev: 1 },
      { revision: 3, type: 'DELETED', hasPrev: 0 },
    ]);
    expect(db.prepare("SELECT value FROM meta WHERE key = 'revision'").pluck().get()).toBe(3);
    expect(db.prepare('SELECT COUNT(*) FROM objects').pluck().get()).toBe(0);
    db.close();
  });

  it('refuses a database written by a different schema version', async () => {
    const path = join(dir, 'berth.db');
    await new SqliteStore(path).close();
    const db = new Database(path);
    db.prepare("UPDATE meta SET value = 99 WHERE key = 'schema'").run();
    db.close();
    expect(() => new SqliteStore(path)).toThrow(/schema version 99/);
  });

  it('fails with a StoreError naming the path when it cannot create the database', async () => {
    const blocker = join(dir, 'plain-file');
    await writeFile(blocker, 'not a directory');
    expect(() => new SqliteStore(join(blocker, 'sub', 'berth.db'))).toThrow(StoreError);
    expect(() => new SqliteStore(join(blocker, 'sub', 'berth.db'))).toThrow(`cannot open SQLite database ${blocker}`);
  });

  it('lists 1000 objects with selectors and pages', async () => {
    const store = new SqliteStore(join(dir, 'berth.db'));
    const resource = 'berth.dev/containers';
    for (let i = 0; i < 1000; i++) {
      const name = `c-${String(i).padStart(4, '0')}`;
      await store.create(
        { resource, namespace: `ns${i % 4}`, name },
        { apiVersion: 'v1', kind: 'X', metadata: { name, namespace: `ns${i % 4}`, labels: { mod: String(i % 10) } } },
      );
    }
    expect((await store.list(resource)).items).toHaveLength(1000);
    expect((await store.list(resource, { labelSelector: 'mod in (1,2)' })).items).toHaveLength(200);
    const page = await store.list(resource, { limit: 100, namespace: 'ns1' });
    expect(page.items).toHaveLength(100);
    expect(page.remainingItemCount).toBe(150);
    await store.close();
  });
});
