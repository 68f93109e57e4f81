/**
 * A remotecommand WebSocket (the attach and exec subresources, as kubectl speaks them) opened with
 * control over each part: what both fronts need to bridge it (the CLI to a terminal, the Docker API
 * to a hijacked connection). Opening resolves once the server switched protocols (for attach: the
 * node has registered it, so a start after that loses no output) or rejects with the refusal.
 */
import WebSocket, { type ClientOptions } from 'ws';
import { CHANNEL, EXEC_SUBPROTOCOLS, ExecStatusSchema, exitCodeOf, frame, type ExecStatus } from '../../api/remotecommand.js';
import { RawRequestError, type RawConnection } from '../raw-request.js';

export interface RemoteCommand {
  onStdout(cb: (d: Buffer) => void): void;
  onStderr(cb: (d: Buffer) => void): void;
  stdin(data: Buffer): void;
  /** No more input (v5's close channel). */
  closeStdin(): void;
  resize(width: number, height: number): void;
  /** Resolves with the exit code (attach: 0 when the output ended) or rejects with the error status. */
  done: Promise<number>;
  /** Goes away (detach): the process goes on. */
  close(): void;
  pause(): void;
  resume(): void;
}

export function openRemoteCommand(conn: RawConnection, path: string, query: string): Promise<RemoteCommand> {
  const url = new URL(`${path}?${query}`, conn.server);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(url, [...EXEC_SUBPROTOCOLS], { ...(conn.options as ClientOptions), perMessageDeflate: false });
  const out: Array<(d: Buffer) => void> = [];
  const err: Array<(d: Buffer) => void> = [];
  let status: ExecStatus | undefined;
  let closedByUs = false;
  const done = new Promise<number>((resolve, reject) => {
    ws.on('close', () => {
      if (closedByUs && !status) return resolve(0);
      if (!status) return reject(new Error('the connection closed before the command finished'));
      const code = exitCodeOf(status);
      if (code === undefined) return reject(new Error(status.message ?? 'failed'));
      resolve(code);
    });
  });
  done.catch(() => undefined);
  ws.on('message', (data: Buffer) => {
    const body = data.subarray(1);
    if (data[0] === CHANNEL.stdout) for (const cb of out) cb(body);
    else if (data[0] === CHANNEL.stderr) for (const cb of err) cb(body);
    else if (data[0] === CHANNEL.error) {
      const text = body.toString('utf8');
      let parsed;
      try {
        parsed = ExecStatusSchema.safeParse(JSON.parse(text));
      } catch {
        // not JSON: the text is the error
      }
      status = parsed?.success ? parsed.data : { status: 'Failure', message: text };
    }
  });
  const rc: RemoteCommand = {
    onStdout: (cb) => out.push(cb),
    onStderr: (cb) => err.push(cb),
    stdin: (d) => {
      if (ws.readyState === ws.OPEN) ws.send(frame(CHANNEL.stdin, d));
    },
    closeStdin: () => {
      if (ws.readyState === ws.OPEN && ws.protocol === 'v5.channel.k8s.io') ws.send(frame(CHANNEL.close, Buffer.from([CHANNEL.stdin])));
    },
    resize: (w, h) => {
      if (ws.readyState === ws.OPEN) ws.send(frame(CHANNEL.resize, JSON.stringify({ Width: w, Height: h })));
    },
    done,
    close: () => {
      closedByUs = true;
      ws.close();
    },
    pause: () => ws.pause(),
    resume: () => ws.resume(),
  };
  return new Promise<RemoteCommand>((resolve, reject) => {
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
    ws.once('error', reject);
    ws.once('open', () => {
      ws.off('error', reject);
      ws.on('error', () => undefined);
      resolve(rc);
    });
  });
}
