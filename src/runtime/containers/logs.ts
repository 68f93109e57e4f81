/**
 * Reading a container's log (conmon's k8s-file format, over the rotated files of log-files.ts) in
 * bounded memory: files are read in chunks, `tail` seeks from the end (never reading the whole
 * log), a line longer than MAX_LINE is cut into pieces, and follow keeps its file open across
 * conmon's rotations so that nothing written before a rotation is missed.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { isNodeError } from '../util/errors.js';
import { parseCriLogLine } from '../../util/cri-log.js';

export interface LogLine {
  time: string;
  stream: 'stdout' | 'stderr';
  line: string;
}

export interface LogOptions {
  follow?: boolean;
  /** Only the last N lines. */
  tail?: number;
  /** Only lines at or after this time (ISO). */
  since?: string;
  stdout?: boolean;
  stderr?: boolean;
}

const CHUNK = 64 * 1024;
/** A logical line (partial records joined) longer than this is emitted in pieces. */
export const MAX_LINE = 1 << 20;

/** Parses conmon's k8s-file format: `<RFC3339Nano> <stream> <P|F> <text>`; partial (P) lines are joined. */
export function parseK8sLog(text: string, pending: Map<string, string> = new Map()): LogLine[] {
  const out: LogLine[] = [];
  for (const raw of text.split('\n')) {
    if (!raw) continue;
    const r = parseCriLogLine(raw);
    if (!r) continue;
    const joined = (pending.get(r.stream) ?? '') + r.text;
    if (r.partial && joined.length < MAX_LINE) {
      pending.set(r.stream, joined);
      continue;
    }
    pending.delete(r.stream);
    out.push({ time: r.time, stream: r.stream, line: joined });
  }
  return out;
}

function wanted(l: { stream: string; time: string }, o: LogOptions): boolean {
  if (l.stream === 'stdout' && o.stdout === false) return false;
  if (l.stream === 'stderr' && o.stderr === false) return false;
  if (o.since && l.time < o.since) return false;
  return true;
}

async function openIfExists(path: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, 'r');
  } catch (e) {
    if (isNodeError(e, 'ENOENT')) return undefined;
    throw e;
  }
}

/** Reads a file from `offset` to its current end in chunks, yielding complete lines' text (the rest is carried). */
class ChunkReader {
  carry = '';
  constructor(
    readonly fh: FileHandle,
    public offset: number,
  ) {}

  async *read(): AsyncGenerator<string> {
    const buf = Buffer.alloc(CHUNK);
    for (;;) {
      const { bytesRead } = await this.fh.read(buf, 0, CHUNK, this.offset);
      if (bytesRead === 0) return;
      this.offset += bytesRead;
      const text = this.carry + buf.toString('utf8', 0, bytesRead);
      const nl = text.lastIndexOf('\n');
      if (nl < 0) {
        // a record is at most a few KiB (conmon splits lines): only a corrupt file gets here
        this.carry = text.length > 2 * MAX_LINE ? '' : text;
        continue;
      }
      this.carry = text.slice(nl + 1);
      yield text.slice(0, nl + 1);
    }
  }
}

/**
 * Where the last `n` wanted lines start: [index of the file, byte offset], found by reading the
 * files backwards in chunks from the newest. Counts complete (F) records of the wanted streams, then
 * steps back over the partial records that lead up to the earliest one.
 */
export async function tailStart(files: readonly string[], n: number, o: LogOptions): Promise<[number, number]> {
  let count = 0;
  for (let fi = files.length - 1; fi >= 0; fi--) {
    const fh = await openIfExists(files[fi] as string);
    if (!fh) continue;
    try {
      let end = (await fh.stat()).size;
      let tailBytes = Buffer.alloc(0); // the start of a line cut by the chunk boundary (read later, earlier in the file)
      let found = false;
      while (end > 0) {
        const start = Math.max(0, end - CHUNK);
        const chunk = Buffer.alloc(end - start);
        await fh.read(chunk, 0, chunk.length, start);
        let data = Buffer.concat([chunk, tailBytes]);
        // lines wholly inside data, from the last one back; the first (maybe cut) one waits for the previous chunk
        let lineEnd = data.length;
        for (let i = data.length - 1; i >= -1; i--) {
          if (i >= 0 && data[i] !== 0x0a) continue;
          if (i < 0 && start > 0) break;
          const lineStart = i + 1;
          if (lineEnd > lineStart) {
            const r = parseCriLogLine(data.toString('utf8', lineStart, lineEnd).replace(/\n$/, ''));
            if (r && !found && !r.partial && wanted({ stream: r.stream, time: r.time }, { ...o, since: undefined })) count++;
            if (count >= n && !found) found = true;
            else if (found && r && !r.partial) return [fi, start + lineEnd];
          }
          lineEnd = lineStart;
        }
        tailBytes = data.subarray(0, lineEnd);
        data = Buffer.alloc(0);
        end = start;
        if (tailBytes.length > 2 * MAX_LINE) tailBytes = Buffer.alloc(0);
      }
      if (found) return [fi, 0];
    } finally {
      await fh.close();
    }
  }
  return [0, 0];
}

/**
 * Reads a container log (its files oldest first, `files()` listing them); with follow, keeps reading
 * new lines until `isDone()` says the container has stopped and the file has been drained.
 */
export async function* readLogs(
  files: () => Promise<string[]>,
  o: LogOptions,
  isDone: () => Promise<boolean>,
  signal?: AbortSignal,
): AsyncGenerator<LogLine> {
  if (o.tail === 0 && !o.follow) return;
  const list = await files();
  let [fi, offset] = o.tail !== undefined && o.tail > 0 ? await tailStart(list, o.tail, o) : [0, 0];
  if (o.tail === 0) [fi, offset] = [list.length - 1, (await stat(list[list.length - 1] ?? '/nonexistent').catch(() => ({ size: 0 }))).size];
  const pending = new Map<string, string>();
  // the last `tail` lines: the start found above may hold a few more (partial records of other streams)
  const last: LogLine[] = [];
  let keep = o.tail !== undefined && o.tail > 0;
  const emit = function* (lines: LogLine[]): Generator<LogLine> {
    for (const l of lines) {
      if (!wanted(l, o)) continue;
      if (keep) {
        last.push(l);
        if (last.length > (o.tail as number)) last.shift();
      } else yield l;
    }
  };
  // every file but the current one is complete
  const current = list[list.length - 1];
  for (; fi < list.length - 1; fi++, offset = 0) {
    const fh = await openIfExists(list[fi] as string);
    if (!fh) continue;
    try {
      const r = new ChunkReader(fh, offset);
      for await (const text of r.read()) yield* emit(parseK8sLog(text, pending));
    } finally {
      await fh.close();
    }
  }
  if (current === undefined) return;
  let fh = await openIfExists(current);
  if (!fh) return;
  let reader = new ChunkReader(fh, offset);
  let ino = (await fh.stat()).ino;
  try {
    for await (const text of reader.read()) yield* emit(parseK8sLog(text, pending));
    keep = false;
    yield* last.splice(0);
    if (!o.follow) return;
    for (;;) {
      if (signal?.aborted) return;
      const done = await isDone();
      for await (const text of reader.read()) yield* emit(parseK8sLog(text, pending));
      // conmon replaced the file (rotation): the old one is drained, go on with the new one from its start
      const now = await stat(current).then((s) => s.ino, () => ino);
      if (now !== ino) {
        const next = await openIfExists(current);
        if (next) {
          await fh.close();
          fh = next;
          ino = (await fh.stat()).ino;
          reader = new ChunkReader(fh, 0);
          continue;
        }
      }
      if (done) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await fh.close();
  }
}

export async function logSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}
