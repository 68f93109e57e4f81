/**
 * The client side of exec over WebSocket (what `kubectl exec` does): stdin, resizes and the end of
 * stdin go out as remotecommand frames; stdout and stderr come back on their channels, and the
 * status on the error channel gives the exit code.
 */
import type { Readable, Writable } from 'node:stream';
import WebSocket, { type ClientOptions } from 'ws';
import { CHANNEL, EXEC_SUBPROTOCOLS, ExecStatusSchema, exitCodeOf, frame, type ExecStatus, type TerminalSizeMessage } from '../api/remotecommand.js';
import { RawRequestError, type RawConnection } from './raw-request.js';

export interface ExecIO {
  /** Sent to the process as it comes; its end closes the process's stdin (v5). */
  stdin?: Readable;
  stdout: Writable;
  stderr: Writable;
  /** The local terminal, whose size goes to the remote one at the start and on every change. */
  terminal?: { size(): TerminalSizeMessage; onResize(listener: () => void): () => void };
}

/** Runs the exec at `path?query`; resolves with the exit code, rejects when refused or cut off. */
export function execOverWebSocket(conn: RawConnection, path: string, query: string, io: ExecIO): Promise<number> {
  const url = new URL(`${path}?${query}`, conn.server);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(url, [...EXEC_SUBPROTOCOLS], { ...(conn.options as ClientOptions), perMessageDeflate: false });
  const cleanups: (() => void)[] = [];

  return new Promise<number>((resolve, reject) => {
    let status: ExecStatus | undefined;
    ws.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let message = text;
        try {
          message = (JSON.parse(text) as { message?: string }).message ?? text;
        } catch {
          // not a Status
        }
        reject(new RawRequestError(res.statusCode ?? 0, message || `HTTP ${res.statusCode}`));
        ws.terminate();
      });
    });
    ws.on('error', reject);
    // Output nobody reads any more (`berth exec ... | head`): stop the command and end as a
    // process killed by SIGPIPE would.
    for (const out of [io.stdout, io.stderr]) {
      const onError = (e: NodeJS.ErrnoException) => {
        ws.terminate();
        if (e.code === 'EPIPE') resolve(128 + 13);
        else reject(e);
      };
      // stays after the end: a write still queued may fail later
      out.on('error', onError);
    }

    ws.on('open', () => {
      const send = (channel: number, data: Buffer | string) => ws.send(frame(channel, data));
      if (io.terminal) {
        const resize = () => send(CHANNEL.resize, JSON.stringify(io.terminal!.size()));
        resize();
        cleanups.push(io.terminal.onResize(resize));
      }
      const stdin = io.stdin;
      if (stdin) {
        const onData = (d: Buffer) => send(CHANNEL.stdin, d);
        // v4 has no way to say stdin ended: the process keeps waiting, as with kubectl
        const onEnd = () => {
          if (ws.protocol === 'v5.channel.k8s.io') send(CHANNEL.close, Buffer.from([CHANNEL.stdin]));
        };
        stdin.on('data', onData).once('end', onEnd);
        cleanups.push(() => {
          stdin.off('data', onData).off('end', onEnd);
          stdin.pause();
        });
      }
    });

    ws.on('message', (data: Buffer) => {
      const body = data.subarray(1);
      const out = data[0] === CHANNEL.stdout ? io.stdout : data[0] === CHANNEL.stderr ? io.stderr : undefined;
      if (out) {
        if (!out.write(body)) {
          ws.pause();
          out.once('drain', () => ws.resume());
        }
      } else if (data[0] === CHANNEL.error) {
        const text = body.toString('utf8');
        let parsed;
        try {
          parsed = ExecStatusSchema.safeParse(JSON.parse(text));
        } catch {
          // not JSON: the message is the error
        }
        status = parsed?.success ? parsed.data : { status: 'Failure', message: text };
      }
    });

    ws.on('close', () => {
      for (const c of cleanups) c();
      if (!status) return reject(new Error('the connection closed before the command finished'));
      const code = exitCodeOf(status);
      if (code === undefined) return reject(new Error(status.message ?? 'exec failed'));
      resolve(code);
    });
  });
}
