import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryStore, openStore, SqliteStore, StoreError } from '../../../src/store/index.js';

describe('openStore', () => {
  it('opens a memory store', async () => {
    const store = await openStore('memory:');
    expect(store).toBeInstanceOf(MemoryStore);
    await store.close();
  });

  it('opens a SQLite store at the given path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-open-'));
    try {
      const store = await openStore(`sqlite:${join(dir, 'x', 'berth.db')}`);
      expect(store).toBeInstanceOf(SqliteStore);
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['etcd://127.0.0.1:2379', /etcd backend is not supported yet/],
    ['sqlite:', /has no path/],
    ['postgres://x', /unknown store spec "postgres:\/\/x"/],
  ])('rejects %j clearly', async (spec, message) => {
    const err = await openStore(spec).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as Error).message).toMatch(message);
  });
});
