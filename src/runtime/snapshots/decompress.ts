import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { invalid } from '../util/errors.js';

export type Compression = 'none' | 'gzip';

export async function detectCompression(path: string): Promise<Compression> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(4);
    await fh.read(b, 0, 4, 0);
    if (b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
    if (b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd) throw invalid('zstd-compressed layers are not supported');
    return 'none';
  } finally {
    await fh.close();
  }
}

/** Writes the uncompressed form of `src` to `dst` and returns its sha256 (the layer's diffID). */
export async function decompressTo(src: string, dst: string): Promise<string> {
  const hash = createHash('sha256');
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  if ((await detectCompression(src)) === 'gzip') await pipeline(createReadStream(src), createGunzip(), tap, createWriteStream(dst));
  else await pipeline(createReadStream(src), tap, createWriteStream(dst));
  return `sha256:${hash.digest('hex')}`;
}
