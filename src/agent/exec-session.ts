/**
 * One exec on an upgraded WebSocket, as kubelet serves it: stdin and resize messages go to the
 * process, its output goes out on the stdout and stderr channels, and its exit status on the
 * error channel ends the session. The client going away kills the process.
 */
import type { Readable } from 'node:stream';
import type { WebSocket } from 'ws';
import type { ExecQuery } from '../api/exec-query.js';
import { CHANNEL, errorStatus, exitStatus, frame, TerminalSizeSchema, type ExecSubprotocol } from '../api/remotecommand.js';
import type { ExecStream } from '../runtime/index.js';

/** Output queued in the socket beyond this pauses the stream until the client catches up. */
const HIGH_WATER_BYTES = 1 << 20;

export function serveExecSession(ws: WebSocket, protocol: ExecSubprotocol, q: ExecQuery, s: ExecStream): void {
  const open = () => ws.readyState === ws.OPEN;
  /** Sends a stream's data on a channel (or drops it, when the client did not ask for it); resolves at its end. */
  const forward = (r: Readable | undefined, channel: number, wanted: boolean): Promise<void> => {
    if (!r) return Promise.resolve();
    r.on('data', (d: Buffer) => {
      if (!wanted || !open()) return;
      ws.send(frame(channel, d), () => r.resume());
      if (ws.bufferedAmount > HIGH_WATER_BYTES) r.pause();
    });
    return new Promise((resolve) => r.once('close', resolve).once('end', resolve));
  };

  s.stdin.on('error', () => undefined);
  if (!q.stdin) s.stdin.end();
  ws.on('message', (data: Buffer) => {
    const body = data.subarray(1);
    switch (data[0]) {
      case CHANNEL.stdin:
        if (q.stdin && s.stdin.writable) s.stdin.write(body);
        return;
      case CHANNEL.resize: {
        let size;
        try {
          size = TerminalSizeSchema.parse(JSON.parse(body.toString('utf8')));
        } catch {
          return; // kubelet ignores a resize it cannot read
        }
        s.resize({ cols: size.Width, rows: size.Height });
        return;
      }
      case CHANNEL.close:
        if (protocol === 'v5.channel.k8s.io' && body[0] === CHANNEL.stdin) s.stdin.end();
        return;
    }
  });
  ws.on('close', () => s.kill());
  ws.on('error', () => s.kill());

  const output = Promise.all([forward(s.stdout, CHANNEL.stdout, q.stdout), forward(s.stderr, CHANNEL.stderr, q.stderr)]);
  void Promise.all([s.exited, output])
    .then(([code]) => exitStatus(code), (e: unknown) => errorStatus(e instanceof Error ? e.message : String(e)))
    .then((status) => {
      if (!open()) return;
      ws.send(frame(CHANNEL.error, JSON.stringify(status)));
      ws.close(1000);
    });
}
