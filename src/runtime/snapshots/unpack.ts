import { createHash, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { StreamSource } from '../tar/stream-source.js';
import { invalid } from '../util/errors.js';
import { applyTar } from './apply-layer.js';

async function* prepend(first: Buffer[], rest: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  try {
    yield* first;
    for (let r = await rest.next(); !r.done; r = await rest.next()) yield r.value;
  } finally {
    // stopping early stops the producer too (a download's response is closed)
    await rest.return?.();
  }
}

async function* hashed(chunks: AsyncIterable<Buffer>, hash: Hash): AsyncGenerator<Buffer> {
  for await (const c of chunks) {
    hash.update(c);
    yield c;
  }
}

/** Applies a plain tar stream to `dest` and reads it to its end (the padding after the end marker too). */
async function applyAll(chunks: AsyncIterable<Buffer>, dest: string): Promise<void> {
  const src = new StreamSource(chunks);
  try {
    await applyTar(src, dest, 'overlay');
    await src.drain();
  } finally {
    await src.close();
  }
}

/**
 * Unpacks a layer (plain or gzip tar) into `dest` as its bytes arrive, in one pass, and returns
 * its diffID (the sha256 of the tar). The body is always read to its end, so a producer that
 * checks a digest at the end (a download) has done so when this returns. `bytesDigest`: the
 * digest the producer checks; for an uncompressed layer it is the diffID, and no second hash runs.
 */
export async function unpackLayerStream(body: AsyncIterable<Buffer>, dest: string, opts: { bytesDigest?: string } = {}): Promise<string> {
  const it = body[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let headBytes = 0;
  try {
    while (headBytes < 4) {
      const r = await it.next();
      if (r.done) break;
      head.push(r.value);
      headBytes += r.value.length;
    }
  } catch (e) {
    await it.return?.();
    throw e;
  }
  const magic = Buffer.concat(head).subarray(0, 4);
  const chunks = prepend(head, it);
  if (magic[0] === 0x28 && magic[1] === 0xb5 && magic[2] === 0x2f && magic[3] === 0xfd) {
    await chunks.return(undefined);
    throw invalid('zstd-compressed layers are not supported');
  }
  const hash = createHash('sha256');
  if (magic[0] === 0x1f && magic[1] === 0x8b) {
    // gunzip runs on the thread pool while this thread applies the tar
    await pipeline(Readable.from(chunks, { objectMode: false }), createGunzip(), async (plain: AsyncIterable<Buffer>) => applyAll(hashed(plain, hash), dest));
    return `sha256:${hash.digest('hex')}`;
  }
  if (opts.bytesDigest) {
    await applyAll(chunks, dest);
    return opts.bytesDigest;
  }
  await applyAll(hashed(chunks, hash), dest);
  return `sha256:${hash.digest('hex')}`;
}
