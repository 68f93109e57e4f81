/**
 * One attach on an upgraded WebSocket (kubelet's /attach, the same remotecommand channels as exec):
 * stdin and resize messages go to the container through conmon, its output goes out on the stdout
 * and stderr channels; when the output ends (the container exited) a Success status on the error
 * channel closes the session. The client going away detaches; the container goes on.
 */
import type { Readable } from 'node:stream';
import type { WebSocket } from 'ws';
import type { AttachQuery } from '../api/exec-query.js';
import { CHANNEL, errorStatus, exitStatus, frame, TerminalSizeSchema, type ExecSubprotocol } from '../api/remotecommand.js';
import type { AttachStream } from '../runtime/index.js';

const HIGH_WATER_BYTES = 1 << 20;

export function serveAttachSession(ws: WebSocket, protocol: ExecSubprotocol, q: AttachQuery, s: AttachStream): void {
  const open = () => ws.readyState === ws.OPEN;
  const forward = (r: Readable, channel: number, wanted: boolean): Promise<void> => {
    r.on('data', (d: Buffer) => {
      if (!wanted || !open()) return;
      ws.send(frame(channel, d), () => r.resume());
      if (ws.bufferedAmount > HIGH_WATER_BYTES) r.pause();
    });
    return new Promise((resolve) => r.once('close', resolve).once('end', resolve));
  };
  s.stdin.on('error', () => undefined);
  ws.on('message', (data: Buffer) => {
    const body = data.subarray(1);
    switch (data[0]) {
      case CHANNEL.stdin:
        if (q.stdin) s.stdin.write(body);
        return;
      case CHANNEL.resize: {
        let size;
        try {
          size = TerminalSizeSchema.parse(JSON.parse(body.toString('utf8')));
        } catch {
          return;
        }
        s.resize({ cols: size.Width, rows: size.Height });
        return;
      }
      case CHANNEL.close:
        if (protocol === 'v5.channel.k8s.io' && body[0] === CHANNEL.stdin && q.stdin) s.stdin.end();
        return;
    }
  });
  ws.on('close', () => s.close());
  ws.on('error', () => s.close());
  const output = Promise.all([forward(s.stdout, CHANNEL.stdout, q.stdout), forward(s.stderr, CHANNEL.stderr, q.stderr)]);
  void s.connected.then(
    () => output.then(() => exitStatus(0)),
    (e: unknown) => errorStatus(e instanceof Error ? e.message : String(e)),
  ).then((status) => {
    if (!open()) return;
    ws.send(frame(CHANNEL.error, JSON.stringify(status)));
    ws.close(1000);
  });
}
