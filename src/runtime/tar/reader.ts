import type { FileHandle } from 'node:fs/promises';
import { invalid } from '../util/errors.js';
import { normaliseTarName, type TarEntry, type TarEntryType } from '../../util/tar/entry.js';

const BLOCK = 512;

export interface TarReadEntry extends TarEntry {
  /** Byte offset of the entry's data in the archive. */
  dataOffset: number;
}

/** Where tar bytes come from: a file read at offsets, or a stream read in order (stream-source.ts). */
export interface TarByteSource {
  /** Bytes consumed so far. */
  readonly position: number;
  /** The next `length` bytes; fewer only at the end of the archive. */
  read(length: number): Promise<Buffer>;
  skip(length: number): Promise<void>;
}

function str(buf: Buffer, start: number, len: number): string {
  const slice = buf.subarray(start, start + len);
  const nul = slice.indexOf(0);
  return slice.subarray(0, nul === -1 ? slice.length : nul).toString('utf8');
}

function num(buf: Buffer, start: number, len: number, field: string): number {
  const first = buf[start] ?? 0;
  if (first & 0x80) {
    // base-256 (GNU) for values that do not fit in octal
    let v = 0;
    for (let i = 1; i < len; i++) v = v * 256 + (buf[start + i] ?? 0);
    return v;
  }
  const s = str(buf, start, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw invalid(`tar header: bad octal number in ${field}: "${s}"`);
  return parseInt(s, 8);
}

function checksumOk(buf: Buffer): boolean {
  const stored = num(buf, 148, 8, 'chksum');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : (buf[i] ?? 0);
  return sum === stored;
}

const TYPES: Record<string, TarEntryType> = {
  '0': 'file', '\0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo',
};

function parsePax(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    const sp = data.indexOf(0x20, pos);
    if (sp === -1) break;
    const len = parseInt(data.subarray(pos, sp).toString('utf8'), 10);
    if (!Number.isFinite(len) || len <= 0) throw invalid('tar pax header: bad record length');
    const rec = data.subarray(sp + 1, pos + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out.set(rec.slice(0, eq), rec.slice(eq + 1));
    pos += len;
  }
  return out;
}

async function readExact(fh: FileHandle, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

class FileSource implements TarByteSource {
  position = 0;
  constructor(private readonly fh: FileHandle) {}

  async read(length: number): Promise<Buffer> {
    const b = await readExact(this.fh, length, this.position);
    this.position += b.length;
    return b;
  }

  async skip(length: number): Promise<void> {
    this.position += length;
  }
}

/** Iterates over the entries of an uncompressed tar file (ustar, pax and GNU long names). Data is read on demand by offset. */
export function readTarEntries(fh: FileHandle): AsyncGenerator<TarReadEntry> {
  return tarEntries(new FileSource(fh));
}

/**
 * Iterates over the entries of an uncompressed tar. A consumer may read an entry's data from the
 * source before asking for the next entry; whatever it leaves is skipped. Stops at the end marker.
 */
export async function* tarEntries(src: TarByteSource): AsyncGenerator<TarReadEntry> {
  let pax = new Map<string, string>();
  const globalPax = new Map<string, string>();
  let longName: string | undefined;
  let longLink: string | undefined;
  /** Reads the data of a meta entry (pax, GNU long name) and the padding after it. */
  const metaData = async (size: number, at: number): Promise<Buffer> => {
    const data = await src.read(size);
    if (data.length < size) throw invalid(`tar: truncated archive at byte ${at + data.length}`);
    await src.skip(Math.ceil(size / BLOCK) * BLOCK - size);
    return data;
  };
  for (;;) {
    const pos = src.position;
    const hdr = await src.read(BLOCK);
    if (hdr.length < BLOCK) {
      if (hdr.length === 0 && pos > 0) return;
      throw invalid(`tar: truncated archive at byte ${pos}`);
    }
    if (hdr.every((b) => b === 0)) return;
    if (!checksumOk(hdr)) throw invalid(`tar: bad header checksum at byte ${pos} (not a tar archive?)`);
    const typeflag = String.fromCharCode(hdr[156] ?? 0);
    const size = num(hdr, 124, 12, 'size');
    const dataOffset = pos + BLOCK;
    if (typeflag === 'x' || typeflag === 'g') {
      const recs = parsePax(await metaData(size, dataOffset));
      if (typeflag === 'g') for (const [k, v] of recs) globalPax.set(k, v);
      else pax = recs;
      continue;
    }
    if (typeflag === 'L' || typeflag === 'K') {
      const v = str(await metaData(size, dataOffset), 0, size);
      if (typeflag === 'L') longName = v;
      else longLink = v;
      continue;
    }
    const type = TYPES[typeflag];
    if (!type) throw invalid(`tar: unsupported entry type "${typeflag}" at byte ${dataOffset - BLOCK}`);
    const magic = str(hdr, 257, 6);
    const prefix = magic.startsWith('ustar') ? str(hdr, 345, 155) : '';
    const rawName = pax.get('path') ?? globalPax.get('path') ?? longName ?? (prefix ? `${prefix}/${str(hdr, 0, 100)}` : str(hdr, 0, 100));
    const paxSize = pax.get('size');
    const entry: TarReadEntry = {
      name: normaliseTarName(rawName),
      type: type === 'file' && rawName.endsWith('/') ? 'dir' : type,
      mode: num(hdr, 100, 8, 'mode') & 0o7777,
      uid: Number(pax.get('uid') ?? num(hdr, 108, 8, 'uid')),
      gid: Number(pax.get('gid') ?? num(hdr, 116, 8, 'gid')),
      size: paxSize !== undefined ? Number(paxSize) : size,
      mtime: Math.floor(Number(pax.get('mtime') ?? num(hdr, 136, 12, 'mtime'))),
      linkname: pax.get('linkpath') ?? longLink ?? str(hdr, 157, 100),
      devmajor: num(hdr, 329, 8, 'devmajor'),
      devminor: num(hdr, 337, 8, 'devminor'),
      dataOffset,
    };
    if (!Number.isSafeInteger(entry.size) || entry.size < 0) throw invalid(`tar: bad size "${paxSize ?? size}" for "${entry.name}"`);
    const end = dataOffset + Math.ceil(entry.size / BLOCK) * BLOCK;
    pax = new Map();
    longName = undefined;
    longLink = undefined;
    yield entry;
    if (src.position > end) throw new Error(`tar: the consumer of "${entry.name}" read past its data`);
    await src.skip(end - src.position);
  }
}

export async function readEntryData(src: FileHandle, entry: TarReadEntry): Promise<Buffer> {
  const b = await readExact(src, entry.size, entry.dataOffset);
  if (b.length < entry.size) throw invalid(`tar: truncated data for "${entry.name}"`);
  return b;
}
