/**
 * Attach to a container's stdio through conmon's attach socket (what `docker attach` and the
 * attach of `docker run` do): a SOCK_SEQPACKET socket in the bundle, each packet from conmon one
 * stream byte (2 stdout, 3 stderr) and the data, each packet to conmon bytes for the container's
 * stdin (when conmon was started with --stdin). libuv cannot open seqpacket sockets, so the
 * berth-syscalls addon bridges it to a stream socket with a 5-byte header per packet. A terminal
 * is resized through conmon's control fifo (`1 ROWS COLS`).
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { Socket } from 'node:net';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { failed } from '../util/errors.js';
import { syscallError, syscalls } from '../util/syscalls.js';
import type { TerminalSize } from './exec-stream.js';

export interface AttachStream {
  stdout: Readable;
  stderr: Readable;
  /** The container's stdin (only when it was created with stdin open); its end closes it unless the container keeps it open. */
  stdin: Writable;
  resize(size: TerminalSize): void;
  /** Detaches (or gives up waiting for the start): the container goes on. */
  close(): void;
  /** Resolves once connected to conmon: at once for a running container, else when it starts. Rejects when that fails. */
  connected: Promise<void>;
  /** Resolves when the output has ended: the container exited, the attach was closed or could not connect. */
  ended: Promise<void>;
}

const HEADER = 5;
/** conmon's pipe numbers: 1 stdin, 2 stdout, 3 stderr. */
const STDERR_PIPE = 3;
/** One packet of conmon's is at most 8 KiB: a larger length is a broken bridge. */
const MAX_PACKET = 64 * 1024;

/**
 * One attach: its streams exist from the start; `connect()` (synchronous) plugs them into conmon's socket,
 * now for a running container or, for one not running, between its next `runc create` and `runc start`.
 */
export class AttachSession implements AttachStream {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly stdin: Writable;
  readonly connected: Promise<void>;
  readonly ended: Promise<void>;
  private sock: Socket | undefined;
  private closed = false;
  private input: { chunk: Buffer; cb: () => void }[] = [];
  private inputEnded = false;
  private settleConnected!: (err?: Error) => void;
  private finish!: () => void;

  constructor(
    private readonly socketPath: string,
    private readonly ctlPath: string,
    private readonly onClose: () => void = () => undefined,
  ) {
    this.connected = new Promise<void>((resolve, reject) => {
      this.settleConnected = (err) => (err ? reject(err) : resolve());
    });
    this.connected.catch(() => undefined);
    this.ended = new Promise<void>((resolve) => {
      this.finish = () => {
        this.stdout.end();
        this.stderr.end();
        resolve();
      };
    });
    this.stdin = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        if (!this.sock) {
          if (this.closed) return cb();
          this.input.push({ chunk, cb: () => cb() });
          return;
        }
        if (this.sock.destroyed) return cb();
        this.sock.write(chunk, () => cb());
      },
      final: (cb) => {
        this.inputEnded = true;
        if (this.sock && !this.sock.destroyed) this.sock.end();
        cb();
      },
    });
  }

  /** Connects to conmon; a failure ends the session (and rejects `connected`). */
  connect(): void {
    if (this.closed || this.sock) return;
    const sys = syscalls();
    let fd: number;
    try {
      if (!sys?.attachBridge) throw failed('attach needs the berth-syscalls addon (native/syscalls), which is not built on this node');
      try {
        fd = sys.attachBridge(this.socketPath);
      } catch (e) {
        throw failed(`attach: ${syscallError(e, 'connect to the attach socket').message}`);
      }
    } catch (e) {
      this.settleConnected(e as Error);
      this.close();
      return;
    }
    const sock = (this.sock = new Socket({ fd, readable: true, writable: true }));
    let pending: Buffer = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length >= HEADER) {
        const len = pending.readUInt32BE(1);
        if (len > MAX_PACKET) {
          sock.destroy(new Error(`attach: a packet of ${len} bytes`));
          return;
        }
        if (pending.length < HEADER + len) break;
        const data = pending.subarray(HEADER, HEADER + len);
        const out = pending[0] === STDERR_PIPE ? this.stderr : this.stdout;
        pending = pending.subarray(HEADER + len);
        if (!out.write(data)) {
          sock.pause();
          out.once('drain', () => sock.resume());
        }
      }
    });
    sock.once('end', () => this.close());
    sock.once('close', () => this.close());
    sock.on('error', () => undefined);
    for (const { chunk, cb } of this.input) sock.write(chunk, cb);
    this.input = [];
    if (this.inputEnded) sock.end();
    this.settleConnected();
  }

  resize(size: TerminalSize): void {
    if (this.sock) void resizeThroughFifo(this.ctlPath, size);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.settleConnected(failed('attach closed before it connected'));
    this.sock?.destroy();
    for (const { cb } of this.input) cb();
    this.input = [];
    this.onClose();
    this.finish();
  }
}

async function resizeThroughFifo(ctlPath: string, size: TerminalSize): Promise<void> {
  // conmon keeps the fifo open for reading: a non-blocking open for writing succeeds while it runs
  const fh = await open(ctlPath, constants.O_WRONLY | constants.O_NONBLOCK).catch(() => undefined);
  if (!fh) return;
  try {
    await fh.write(`1 ${Math.max(1, Math.floor(size.rows))} ${Math.max(1, Math.floor(size.cols))}\n`);
  } catch {
    // conmon went away: nothing to resize
  } finally {
    await fh.close();
  }
}
