import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { sendFileRange } from '../../../src/registry/send-file.js';

describe('sendFileRange', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown): void => {
    unhandled.push(e);
  };
  afterEach(() => {
    process.off('unhandledRejection', onUnhandled);
  });

  it('a client that goes away mid-body fails the send, and no write failure goes unhandled meanwhile', async () => {
    process.on('unhandledRejection', onUnhandled);
    const dir = await mkdtemp(join(tmpdir(), 'berth-sendfile-'));
    try {
      const file = join(dir, 'blob');
      await writeFile(file, Buffer.alloc(8 * 1024 * 1024, 7));
      let writes = 0;
      // the first write is taken, every later one fails at once, while the next chunk is still being read
      const out = new Writable({
        write(_chunk, _enc, cb) {
          writes++;
          if (writes === 1) cb();
          else setImmediate(() => cb(Object.assign(new Error('write ECONNRESET'), { code: 'ECONNRESET' })));
        },
      });
      out.on('error', () => undefined);
      await expect(sendFileRange(file, 0, 8 * 1024 * 1024 - 1, out)).rejects.toThrow(/ECONNRESET/);
      await new Promise((r) => setTimeout(r, 50));
      expect(unhandled).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
