/**
 * Two connected in-memory sockets: what one end writes, the other reads. The in-process transport
 * hands one end to an HTTP client agent and the other to the API server's HTTP server, so a
 * request made in the same process still goes through HTTP parsing, authentication, admission and
 * the very handlers a remote client reaches, without TCP or TLS.
 *
 * Node's HTTP client and server call a few socket methods beyond a Duplex's (timeouts, keep-alive,
 * no-delay, ref/unref, addresses): they are implemented here as the in-memory equivalents.
 */
import { Duplex } from 'node:stream';

export class MemorySocket extends Duplex {
  peer: MemorySocket | undefined;
  readonly remoteAddress = '127.0.0.1';
  readonly remotePort = 0;
  readonly localAddress = '127.0.0.1';
  readonly localPort = 0;
  readonly remoteFamily = 'IPv4';
  /** The HTTP client checks these before reusing a kept-alive socket. */
  connecting = false;
  readonly encrypted = false;
  private timeoutMs = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Bytes written by the peer while nobody read them; pause/resume is the stream's own backpressure. */
  private waiting: (() => void) | undefined;

  constructor() {
    super({ allowHalfOpen: true });
  }

  override _read(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    const peer = this.peer;
    if (!peer || peer.destroyed) return done(new Error('socket closed'));
    this.touch();
    peer.touch();
    // the peer's push answers false when its reader is behind: wait for its _read before taking more
    if (peer.push(chunk)) done();
    else peer.waiting = () => done();
  }

  override _final(done: (err?: Error | null) => void): void {
    this.peer?.push(null);
    done();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.clearTimer();
    const peer = this.peer;
    this.peer = undefined;
    if (peer && !peer.destroyed) {
      peer.peer = undefined;
      peer.push(null);
      peer.destroy();
    }
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
    done(err);
  }

  setTimeout(ms: number, cb?: () => void): this {
    this.timeoutMs = ms;
    if (cb) this.once('timeout', cb);
    this.touch();
    return this;
  }

  private touch(): void {
    this.clearTimer();
    if (this.timeoutMs > 0 && !this.destroyed) {
      this.timer = setTimeout(() => this.emit('timeout'), this.timeoutMs);
      this.timer.unref();
    }
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  address(): { address: string; family: string; port: number } {
    return { address: this.localAddress, family: 'IPv4', port: 0 };
  }

  destroySoon(): void {
    this.end();
  }
}

/** A connected pair: [client end, server end]. */
export function socketPair(): [MemorySocket, MemorySocket] {
  const a = new MemorySocket();
  const b = new MemorySocket();
  a.peer = b;
  b.peer = a;
  return [a, b];
}
