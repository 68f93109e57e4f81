import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../src/store/memory.js';
import { storeConformance } from '../../store-conformance.js';

storeConformance('memory', async () => {
  const store = new MemoryStore();
  return { store, cleanup: () => store.close() };
});

describe('MemoryStore', () => {
  it('starts at revision 0 with nothing compacted', async () => {
    const store = new MemoryStore();
    expect(await store.revision()).toBe(0);
    expect(await store.compactedRevision()).toBe(0);
    await store.close();
  });
});
