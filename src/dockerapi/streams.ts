/**
 * Docker's hijacked streams: `POST .../attach` and `POST /exec/ID/start` answered `101 UPGRADED`
 * (Upgrade: tcp), after which the connection carries the process's output, raw with a tty or else
 * multiplexed in frames with an 8-byte header (stream 1 stdout / 2 stderr, 3 zero bytes, a 32-bit
 * big-endian length), and the client's input; the client half-closing its side ends the input.
 * Bridged here to a remotecommand stream of the Berth API (attach or exec subresource).
 */
import type { Duplex } from 'node:stream';
import type { RemoteCommand } from '../client/docker/remote-command.js';

export function frameHeader(stream: 1 | 2, length: number): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(length, 4);
  return h;
}

export const RAW_STREAM = 'application/vnd.docker.raw-stream';
export const MULTIPLEXED_STREAM = 'application/vnd.docker.multiplexed-stream';

/** Answers the upgrade (or, for a client that did not ask for one, a 200 with the stream type) on the socket. */
export function acceptHijack(socket: Duplex, o: { upgraded: boolean; tty: boolean }): void {
  const type = o.tty ? RAW_STREAM : MULTIPLEXED_STREAM;
  const head = o.upgraded ? `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${type}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n` : `HTTP/1.1 200 OK\r\nContent-Type: ${type}\r\n\r\n`;
  socket.write(head);
}

const HIGH_WATER = 1 << 20;

/**
 * Joins a hijacked socket and a remotecommand stream: output (framed unless tty) to the socket, the
 * socket's bytes to stdin, its half-close to the end of stdin; resolves when the output has ended
 * (then the socket is ended) or the client has gone (then the stream is closed: a detach).
 */
export function bridge(socket: Duplex, rc: RemoteCommand, o: { tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }): Promise<number | undefined> {
  const write = (stream: 1 | 2, d: Buffer): void => {
    if (socket.destroyed || !socket.writable) return;
    if (!o.tty) socket.write(frameHeader(stream, d.length));
    const ok = socket.write(d);
    if (!ok || socket.writableLength > HIGH_WATER) {
      rc.pause();
      socket.once('drain', () => rc.resume());
    }
  };
  if (o.stdout) rc.onStdout((d) => write(1, d));
  if (o.stderr) rc.onStderr((d) => write(2, d));
  if (o.stdin) {
    socket.on('data', (d: Buffer) => rc.stdin(d));
    socket.once('end', () => rc.closeStdin());
  } else {
    socket.on('data', () => undefined);
  }
  return new Promise((resolve) => {
    let settled = false;
    const onClose = () => {
      if (settled) return;
      settled = true;
      rc.close();
      resolve(undefined);
    };
    socket.once('close', onClose);
    socket.on('error', () => undefined);
    rc.done.then(
      (code) => {
        settled = true;
        socket.off('close', onClose);
        socket.end();
        resolve(code);
      },
      () => {
        settled = true;
        socket.off('close', onClose);
        socket.end();
        resolve(undefined);
      },
    );
  });
}
