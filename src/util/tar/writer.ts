import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type { TarEntry } from './entry.js';

const BLOCK = 512;
const TYPEFLAG: Record<TarEntry['type'], string> = {
  file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6',
};

function octal(buf: Buffer, start: number, len: number, value: number): void {
  buf.write(value.toString(8).padStart(len - 1, '0') + '\0', start, len, 'ascii');
}

function header(name: string, type: string, e: Partial<TarEntry>, size: number): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(name.slice(0, 100), 0, 100, 'utf8');
  octal(b, 100, 8, e.mode ?? 0o644);
  octal(b, 108, 8, e.uid ?? 0);
  octal(b, 116, 8, e.gid ?? 0);
  octal(b, 124, 12, size);
  octal(b, 136, 12, e.mtime ?? 0);
  b.write(type, 156, 1, 'ascii');
  b.write((e.linkname ?? '').slice(0, 100), 157, 100, 'utf8');
  b.write('ustar\0', 257, 6, 'ascii');
  b.write('00', 263, 2, 'ascii');
  octal(b, 329, 8, e.devmajor ?? 0);
  octal(b, 337, 8, e.devminor ?? 0);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return b;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

/** Where the archive goes: a file (a FileHandle is one) or a stream (TarWriter.toStream). */
export interface TarSink {
  write(data: Uint8Array, offset?: number, length?: number): Promise<unknown>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** A Writable as a sink that waits for 'drain' when the stream's buffer is full (bounded memory). */
function streamSink(out: Writable): TarSink {
  const failed = new Promise<never>((_, reject) => {
    out.once('error', reject);
    out.once('close', () => reject(new Error('tar: the stream was closed')));
  });
  failed.catch(() => undefined);
  return {
    async write(data, offset = 0, length = data.length - offset) {
      if (out.destroyed) throw new Error('tar: the stream was closed');
      if (!out.write(Buffer.from(data.buffer, data.byteOffset + offset, length))) {
        await Promise.race([new Promise((r) => out.once('drain', r)), failed]);
      }
    },
    async sync() {},
    async close() {
      await new Promise<void>((resolve) => out.end(resolve));
    },
  };
}

/** Writes a POSIX tar archive sequentially; long names and big files get pax headers. */
export class TarWriter {
  private constructor(private readonly fh: TarSink) {}

  static async create(path: string): Promise<TarWriter> {
    return new TarWriter(await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o644));
  }

  /** An archive written into a stream (an HTTP response), with its backpressure. */
  static toStream(out: Writable): TarWriter {
    return new TarWriter(streamSink(out));
  }

  private async pad(size: number): Promise<void> {
    const rem = size % BLOCK;
    if (rem) await this.fh.write(Buffer.alloc(BLOCK - rem));
  }

  private async writeHeader(entry: Partial<TarEntry> & { name: string; type: TarEntry['type'] }, size: number): Promise<void> {
    const name = entry.type === 'dir' && !entry.name.endsWith('/') ? `${entry.name}/` : entry.name;
    const linkname = entry.linkname ?? '';
    const records: string[] = [];
    if (Buffer.byteLength(name) > 100) records.push(paxRecord('path', name));
    if (Buffer.byteLength(linkname) > 100) records.push(paxRecord('linkpath', linkname));
    if (size > 0o77777777777) records.push(paxRecord('size', String(size)));
    if (records.length) {
      const data = Buffer.from(records.join(''), 'utf8');
      await this.fh.write(header('PaxHeader', 'x', {}, data.length));
      await this.fh.write(data);
      await this.pad(data.length);
    }
    await this.fh.write(header(name, TYPEFLAG[entry.type], entry, size > 0o77777777777 ? 0 : size));
  }

  async addBuffer(entry: Partial<TarEntry> & { name: string }, data: Uint8Array): Promise<void> {
    await this.writeHeader({ ...entry, type: 'file' }, data.length);
    await this.fh.write(data);
    await this.pad(data.length);
  }

  /** Adds a non-file entry (dir, symlink, hardlink, char/block device, fifo). */
  async addEntry(entry: Partial<TarEntry> & { name: string; type: TarEntry['type'] }): Promise<void> {
    await this.writeHeader(entry, 0);
  }

  async addFile(entry: Partial<TarEntry> & { name: string }, path: string, size: number): Promise<void> {
    await this.writeHeader({ ...entry, type: 'file' }, size);
    const src = await open(path, 'r');
    try {
      const buf = Buffer.alloc(1 << 20);
      let done = 0;
      while (done < size) {
        const { bytesRead } = await src.read(buf, 0, Math.min(buf.length, size - done), done);
        if (bytesRead === 0) break;
        await this.fh.write(buf, 0, bytesRead);
        done += bytesRead;
      }
      // the file shrank while we read it: keep the archive well-formed
      if (done < size) await this.fh.write(Buffer.alloc(size - done));
    } finally {
      await src.close();
    }
    await this.pad(size);
  }

  /** A file whose bytes come from `chunks`: exactly `size` of them are written (zeros if it ends early, the rest dropped). */
  async addData(entry: Partial<TarEntry> & { name: string }, size: number, chunks: AsyncIterable<Buffer>): Promise<void> {
    await this.writeHeader({ ...entry, type: 'file' }, size);
    let done = 0;
    for await (const c of chunks) {
      const n = Math.min(c.length, size - done);
      if (n > 0) await this.fh.write(c, 0, n);
      done += n;
      if (done >= size) break;
    }
    const zeros = Buffer.alloc(Math.min(size - done, 1 << 16));
    for (; done < size; done += zeros.length) await this.fh.write(zeros, 0, Math.min(zeros.length, size - done));
    await this.pad(size);
  }

  async close(): Promise<void> {
    await this.fh.write(Buffer.alloc(BLOCK * 2));
    await this.fh.sync();
    await this.fh.close();
  }

  async abort(): Promise<void> {
    await this.fh.close();
  }
}
