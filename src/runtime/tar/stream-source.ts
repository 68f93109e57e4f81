import { invalid } from '../util/errors.js';
import type { TarByteSource } from './reader.js';

/**
 * Tar bytes read in order from an async stream of chunks (a download, a decompressor, a file
 * stream). Entry data can be taken chunk by chunk without copying.
 */
export class StreamSource implements TarByteSource {
  position = 0;
  private readonly it: AsyncIterator<Buffer>;
  /** The chunk being consumed, from `offset` on. */
  private head: Buffer | undefined;
  private offset = 0;
  private ended = false;

  constructor(chunks: AsyncIterable<Buffer>) {
    this.it = chunks[Symbol.asyncIterator]();
  }

  /** Makes `head` a non-empty buffer, or returns false at the end of the stream. */
  private async fill(): Promise<boolean> {
    while (!this.head || this.offset >= this.head.length) {
      if (this.ended) return false;
      const r = await this.it.next();
      if (r.done) {
        this.ended = true;
        this.head = undefined;
        return false;
      }
      this.head = r.value;
      this.offset = 0;
    }
    return true;
  }

  /** Up to `max` bytes of what comes next (a view of the received chunk), or an empty buffer at the end. */
  async chunk(max: number): Promise<Buffer> {
    if (!(await this.fill())) return Buffer.alloc(0);
    const head = this.head as Buffer;
    const n = Math.min(max, head.length - this.offset);
    const out = head.subarray(this.offset, this.offset + n);
    this.offset += n;
    this.position += n;
    return out;
  }

  async read(length: number): Promise<Buffer> {
    const first = await this.chunk(length);
    if (first.length === length || first.length === 0) return first;
    const parts = [first];
    let got = first.length;
    while (got < length) {
      const c = await this.chunk(length - got);
      if (c.length === 0) break;
      parts.push(c);
      got += c.length;
    }
    return Buffer.concat(parts, got);
  }

  async skip(length: number): Promise<void> {
    let left = length;
    while (left > 0) {
      const c = await this.chunk(left);
      if (c.length === 0) throw invalid(`tar: truncated archive at byte ${this.position}`);
      left -= c.length;
    }
  }

  /** Stops reading early (a file stream is closed, a download's generator finishes). */
  async close(): Promise<void> {
    if (!this.ended) await this.it.return?.();
    this.ended = true;
  }

  /** Reads the stream to its end (what follows the end marker), returning how many bytes that was. */
  async drain(): Promise<number> {
    let n = 0;
    for (let c = await this.chunk(Infinity); c.length > 0; c = await this.chunk(Infinity)) n += c.length;
    return n;
  }
}
