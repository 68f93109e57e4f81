/**
 * A streaming `runc exec`: the process's stdio as streams, terminal resize and the exit code.
 * Without a tty runc's stdio are pipes. With one, runc wants a host terminal to copy to and from
 * the container's console (it refuses to run without one, and passes SIGWINCH on as a resize), so
 * it runs inside a pseudo-terminal from node-pty.
 */
import { spawn } from 'node:child_process';
import { watch } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { constants } from 'node:os';
import { basename, dirname } from 'node:path';
import { PassThrough, Writable, type Readable } from 'node:stream';
import type { IPty } from 'node-pty';
import { failed } from '../util/errors.js';

export interface TerminalSize {
  cols: number;
  rows: number;
}

export interface ExecStream {
  /** The process's standard input. With a tty, end() leaves the terminal open (as kubelet does). */
  stdin: Writable;
  /** Standard output; with a tty, everything the terminal shows. */
  stdout: Readable;
  /** Standard error; undefined with a tty, whose output is all on stdout. */
  stderr: Readable | undefined;
  /** Resizes the terminal (without a tty: nothing). */
  resize(size: TerminalSize): void;
  /** Kills the process and its process group; `exited` settles once runc is gone. */
  kill(): void;
  /**
   * The exit code (128+N after signal N), once runc has exited and its files are removed; rejects
   * (a RuntimeError Failed with runc's message) when the process could not be started.
   */
  exited: Promise<number>;
}

export interface ExecLaunch {
  runc: string;
  /** runc's arguments, which must include `--pid-file pidFile`. */
  args: string[];
  pidFile: string;
  /** Files to remove once runc has exited (the process.json). */
  cleanup: string[];
  /** Run runc in a pseudo-terminal of this size (process.json must say terminal: true). */
  tty?: TerminalSize;
}

/** If runc has not gone this long after kill() (it was still setting up), it is killed itself. */
const RUNC_KILL_GRACE_MS = 5_000;

/**
 * The exec'd process's host pid, once runc writes it (after the process started and, with a tty,
 * after runc put its terminal in raw mode); undefined if runc exits without writing it.
 */
function pidWhenWritten(pidFile: string, runcGone: Promise<unknown>): Promise<number | undefined> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (pid: number | undefined): void => {
      if (done) return;
      done = true;
      watcher.close();
      resolve(pid);
    };
    const check = async (): Promise<void> => {
      const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0) finish(pid);
    };
    // runc writes a temporary file and renames it into place.
    const watcher = watch(dirname(pidFile), (_event, name) => {
      if (name === basename(pidFile)) void check();
    });
    watcher.on('error', () => undefined);
    void check();
    void runcGone.then(async () => {
      await check();
      finish(undefined);
    });
  });
}

function killGroup(pid: number): void {
  // runc makes the exec'd process a session (and so process group) leader: its children go too.
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
      return;
    } catch {
      // no such group: try the process alone
    }
  }
}

const exitCodeOf = (code: number | null, signal: NodeJS.Signals | number | null | undefined): number => {
  if (signal) return 128 + (typeof signal === 'number' ? signal : (constants.signals[signal] ?? 0));
  return code ?? 255;
};

/**
 * Passes a stream on once the process runs. Whatever runc writes before (with the process never
 * started) is its own error, kept for the exec's failure instead of passed as the process's output.
 */
function holdUntilStarted(source: Readable, pid: Promise<number | undefined>): { stream: Readable; held: () => string } {
  const out = new PassThrough();
  const held: Buffer[] = [];
  const hold = (d: Buffer) => held.push(d);
  source.on('data', hold);
  void pid.then((p) => {
    source.off('data', hold);
    if (p !== undefined) for (const d of held.splice(0)) out.write(d);
    source.pipe(out);
  });
  return { stream: out, held: () => Buffer.concat(held).toString('utf8') };
}

/** runc's own error (it logs JSON lines with --log-format json; "exec failed: ..."), or what it printed. */
function runcError(output: string, code: number): string {
  const messages = output
    .split('\n')
    .map((line) => {
      try {
        const entry = JSON.parse(line) as { level?: string; msg?: string };
        return entry.level === 'error' || entry.level === 'fatal' ? entry.msg : undefined;
      } catch {
        return line.trim() || undefined;
      }
    })
    .filter((m): m is string => !!m);
  return messages.join('; ') || `exec failed: runc exited with ${code} before the process started`;
}

interface Runner {
  stdin: Writable;
  stdout: Readable;
  stderr: Readable | undefined;
  resize(size: TerminalSize): void;
  /** Signals runc itself (the fallback when the process is not known). */
  signal(sig: NodeJS.Signals): void;
  exited: Promise<number>;
}

function pipes(o: ExecLaunch): Runner {
  const child = spawn(o.runc, o.args, { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.on('error', () => undefined);
  return {
    stdin: child.stdin,
    stdout: child.stdout,
    stderr: child.stderr,
    resize: () => undefined,
    signal: (sig) => child.kill(sig),
    exited: new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => resolve(exitCodeOf(code, signal)));
    }),
  };
}

/**
 * Output processing of the terminal, done here: a newline gets the one CR a terminal's onlcr gives it, unless a
 * CR is already there (the container's terminal converted it). Stateful across chunks.
 */
export function onlcr(): (chunk: Buffer) => Buffer {
  const CR = 0x0d;
  const LF = 0x0a;
  /** Whether the byte before the next chunk is a CR. */
  let afterCR = false;
  return (chunk) => {
    let extra = 0;
    let prev = afterCR;
    for (const b of chunk) {
      if (b === LF && !prev) extra++;
      prev = b === CR;
    }
    if (extra === 0) {
      afterCR = prev;
      return chunk;
    }
    const out = Buffer.allocUnsafe(chunk.length + extra);
    let j = 0;
    prev = afterCR;
    for (const b of chunk) {
      if (b === LF && !prev) out[j++] = CR;
      out[j++] = b;
      prev = b === CR;
    }
    afterCR = prev;
    return out;
  };
}

async function terminal(o: ExecLaunch & { tty: TerminalSize }, pid: Promise<number | undefined>): Promise<Runner> {
  const { spawn: spawnPty } = await import('node-pty');
  // Two terminals are in the way, and runc switches their newline handling at moments the process does not wait
  // for: when runc receives the container's terminal it clears its onlcr, and when it makes this (host) terminal
  // raw it turns output processing on, keeping this terminal's onlcr, so that normally the host adds the CR. A
  // process that writes before the first switch already has its CR from the container's terminal, and got a
  // second one here if runc copied it after the second switch (\r\r\n; output after the first switch and copied
  // before the second got none). This terminal is made raw and -onlcr before runc starts, so it never adds a CR
  // (runc keeps onlcr as it finds it); the stream adds the one CR a newline lacks (onlcr()), whenever it was written.
  const hostRaw = ['-c', 'stty raw -echo -onlcr && exec "$0" "$@"', o.runc, ...o.args];
  const term: IPty = spawnPty('/bin/sh', hostRaw, { name: 'xterm', cols: o.tty.cols, rows: o.tty.rows, encoding: null, env: process.env as Record<string, string> });
  let alive = true;
  const stdout = new PassThrough();
  const crlf = onlcr();
  // With encoding null node-pty hands out Buffers, whatever its typings say.
  term.onData((d) => {
    if (!stdout.write(crlf(d as unknown as Buffer))) {
      term.pause();
      stdout.once('drain', () => term.resume());
    }
  });
  const exited = new Promise<number>((resolve) => {
    term.onExit(({ exitCode, signal }) => {
      alive = false;
      stdout.end();
      resolve(exitCodeOf(exitCode, signal));
    });
  });
  // Until runc has made its terminal raw, the terminal would echo and line-edit what we write.
  const stdin = new Writable({
    write(chunk: Buffer, _enc, cb) {
      void pid.then(() => {
        if (alive) term.write(chunk);
        cb();
      });
    },
  });
  return {
    stdin,
    stdout,
    stderr: undefined,
    resize({ cols, rows }) {
      if (!alive || cols <= 0 || rows <= 0) return;
      try {
        term.resize(cols, rows);
      } catch {
        // the terminal closed meanwhile
      }
    },
    signal: (sig) => term.kill(sig),
    exited,
  };
}

/** Starts runc exec; the caller has written the process.json the arguments name. */
export async function launchExec(o: ExecLaunch): Promise<ExecStream> {
  let runcGone!: () => void;
  const pid = pidWhenWritten(o.pidFile, new Promise<void>((r) => (runcGone = r)));
  const removeFiles = async (): Promise<void> => {
    await pid;
    await Promise.all([...o.cleanup, o.pidFile].map((f) => rm(f, { force: true })));
  };
  let runner: Runner;
  try {
    runner = o.tty ? await terminal({ ...o, tty: o.tty }, pid) : pipes(o);
  } catch (e) {
    runcGone();
    await removeFiles();
    throw e;
  }
  let done = false;
  runner.exited
    .finally(() => {
      done = true;
      runcGone();
    })
    .catch(() => undefined);
  const stdout = holdUntilStarted(runner.stdout, pid);
  const stderr = runner.stderr ? holdUntilStarted(runner.stderr, pid) : undefined;
  const exited = runner.exited
    .then(async (code) => {
      if ((await pid) !== undefined) return code;
      throw failed(runcError([stderr?.held(), stdout.held()].join(''), code));
    })
    .finally(removeFiles);
  let killed = false;
  return {
    stdin: runner.stdin,
    stdout: stdout.stream,
    stderr: stderr?.stream,
    resize: (size) => runner.resize(size),
    kill() {
      // once runc is gone, the pid it wrote may belong to another process
      if (killed || done) return;
      killed = true;
      void pid.then((p) => {
        if (p !== undefined && !done) killGroup(p);
      });
      const fallback = setTimeout(() => runner.signal('SIGKILL'), RUNC_KILL_GRACE_MS);
      exited.finally(() => clearTimeout(fallback)).catch(() => undefined);
    },
    exited,
  };
}

/** Runs an exec to completion with `input` as stdin, collecting its output (the buffered docker exec). */
/** Output a buffered exec keeps per stream; past it the rest is read and dropped, and a marker says how much. */
export const EXEC_OUTPUT_LIMIT = 4 << 20;

/**
 * A buffered exec: `input` as stdin, each output stream kept up to `limit` bytes. The process is
 * never blocked on a full pipe: what passes the limit is read and counted, and the kept output ends
 * with a line saying how many bytes were cut (the streaming exec has no limit: it holds nothing).
 */
export async function collectExec(
  s: ExecStream,
  input = '',
  limit = EXEC_OUTPUT_LIMIT,
): Promise<{ exitCode: number; stdout: string; stderr: string; truncated: boolean }> {
  let truncated = false;
  const read = async (r: Readable | undefined): Promise<string> => {
    if (!r) return '';
    const chunks: Buffer[] = [];
    let kept = 0;
    let dropped = 0;
    for await (const c of r) {
      const b = c as Buffer;
      const room = limit - kept;
      if (room > 0) {
        const part = b.length <= room ? b : b.subarray(0, room);
        chunks.push(Buffer.from(part));
        kept += part.length;
      }
      dropped += Math.max(0, b.length - Math.max(room, 0));
    }
    if (dropped > 0) {
      truncated = true;
      chunks.push(Buffer.from(`\n[berth: output cut after ${limit} bytes; ${dropped} more bytes were dropped]\n`));
    }
    return Buffer.concat(chunks).toString('utf8');
  };
  s.stdin.on('error', () => undefined);
  s.stdin.end(input);
  const [stdout, stderr, exitCode] = await Promise.all([read(s.stdout), read(s.stderr), s.exited]);
  return { exitCode, stdout, stderr, truncated };
}
