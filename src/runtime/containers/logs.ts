import { open, stat } from 'node:fs/promises';
import { isNodeError } from '../util/errors.js';

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

/** Parses conmon's k8s-file format: `<RFC3339Nano> <stream> <P|F> <text>`; partial (P) lines are joined. */
export function parseK8sLog(text: string, pending: Map<string, string> = new Map()): LogLine[] {
  const out: LogLine[] = [];
  for (const raw of text.split('\n')) {
    if (!raw) continue;
    const a = raw.indexOf(' ');
    const b = raw.indexOf(' ', a + 1);
    const c = raw.indexOf(' ', b + 1);
    if (a < 0 || b < 0) continue;
    const time = raw.slice(0, a);
    const stream = raw.slice(a + 1, b);
    if (stream !== 'stdout' && stream !== 'stderr') continue;
    const tag = c < 0 ? raw.slice(b + 1) : raw.slice(b + 1, c);
    const body = c < 0 ? '' : raw.slice(c + 1);
    const joined = (pending.get(stream) ?? '') + body;
    if (tag.startsWith('P')) {
      pending.set(stream, joined);
      continue;
    }
    pending.delete(stream);
    out.push({ time, stream, line: joined });
  }
  return out;
}

function wanted(l: LogLine, o: LogOptions): boolean {
  if (l.stream === 'stdout' && o.stdout === false) return false;
  if (l.stream === 'stderr' && o.stderr === false) return false;
  if (o.since && l.time < o.since) return false;
  return true;
}

/**
 * Reads a container log; with follow, keeps reading new lines until `isDone()` says the
 * container has stopped and the file has been drained.
 */
export async function* readLogs(path: string, o: LogOptions, isDone: () => Promise<boolean>, signal?: AbortSignal): AsyncGenerator<LogLine> {
  let offset = 0;
  let carry = '';
  const pending = new Map<string, string>();
  const readNew = async (): Promise<LogLine[]> => {
    let fh;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      if (isNodeError(e, 'ENOENT')) return [];
      throw e;
    }
    try {
      const size = (await fh.stat()).size;
      if (size < offset) offset = 0; // truncated
      if (size === offset) return [];
      const buf = Buffer.alloc(size - offset);
      await fh.read(buf, 0, buf.length, offset);
      offset = size;
      const text = carry + buf.toString('utf8');
      const lastNl = text.lastIndexOf('\n');
      carry = text.slice(lastNl + 1);
      return parseK8sLog(text.slice(0, lastNl + 1), pending).filter((l) => wanted(l, o));
    } finally {
      await fh.close();
    }
  };
  let first = await readNew();
  if (o.tail !== undefined) first = o.tail === 0 ? [] : first.slice(-o.tail);
  yield* first;
  if (!o.follow) return;
  for (;;) {
    if (signal?.aborted) return;
    const done = await isDone();
    yield* await readNew();
    if (done) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function logSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}
