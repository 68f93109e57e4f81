/**
 * The agent's exec and attach endpoints: a WebSocket upgrade on /containers/NS/NAME/exec or /attach
 * speaking the remotecommand subprotocols (kubelet's /exec and /attach). Everything that can be refused is refused before
 * the upgrade, as an HTTP error: the path, the subprotocol, the query, a container that is missing
 * or not running. The process starts before the upgrade, so a failed start is an error too.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { ExecQueryError, parseAttachQuery, parseExecQuery, type ExecQuery } from '../api/exec-query.js';
import { EXEC_SUBPROTOCOLS, type ExecSubprotocol } from '../api/remotecommand.js';
import { RuntimeError, type Runtime } from '../runtime/index.js';
import { refuseUpgrade } from '../util/refuse-upgrade.js';
import { serveAttachSession } from './attach-session.js';
import { serveExecSession } from './exec-session.js';
import { runtimeContainerName } from './names.js';

const PATH = /^\/containers\/([^/]+)\/([^/]+)\/(exec|attach)$/;

/** The first subprotocol the client offers that we speak (clients list them in preference order). */
export function pickSubprotocol(header: string | undefined): ExecSubprotocol | undefined {
  const offered = (header ?? '').split(',').map((p) => p.trim());
  return offered.find((p): p is ExecSubprotocol => (EXEC_SUBPROTOCOLS as readonly string[]).includes(p));
}

export function execUpgradeHandler(runtime: Runtime): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: (offered) => pickSubprotocol([...offered].join(',')) ?? false });
  const refuse = (socket: Duplex, code: number, message: string) => refuseUpgrade(socket, code, { message });

  return (req, socket, head) => {
    socket.on('error', () => undefined);
    const url = new URL(req.url ?? '/', 'http://agent');
    const m = PATH.exec(url.pathname);
    if (!m) return refuse(socket, 404, `no WebSocket endpoint at ${url.pathname}`);
    if (req.method !== 'GET') return refuse(socket, 400, `a WebSocket upgrade needs GET, not ${req.method}`);
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return refuse(socket, 400, `Upgrade: only websocket is supported (got "${req.headers.upgrade}")`);
    const protocol = pickSubprotocol(req.headers['sec-websocket-protocol']);
    if (!protocol) return refuse(socket, 400, `Sec-WebSocket-Protocol: want one of ${EXEC_SUBPROTOCOLS.join(', ')}`);
    const refused = (e: unknown): void => {
      if (!(e instanceof RuntimeError)) return refuse(socket, 500, e instanceof Error ? e.message : String(e));
      // The Container exists (the API server checked); without a runtime container it is not running here.
      if (e.code === 'NotFound') return refuse(socket, 409, `container "${name}" is not running (no runtime container on this node)`);
      if (e.code === 'Conflict') return refuse(socket, 409, `container "${name}" is not running`);
      refuse(socket, { Invalid: 400, Unsafe: 400, Failed: 500 }[e.code], e.message);
    };
    const [ns, name] = [decodeURIComponent(m[1]!), decodeURIComponent(m[2]!)];
    if (m[3] === 'attach') {
      let aq;
      try {
        aq = parseAttachQuery(url.searchParams);
      } catch (e) {
        return refuse(socket, 400, e instanceof ExecQueryError ? e.message : String(e));
      }
      const attachQuery = aq;
      // resolves once registered: a container not running yet is connected at its next start, before it runs
      runtime.tasks.attach(runtimeContainerName(ns, name)).then((stream) => {
        if (socket.destroyed) return stream.close();
        socket.once('close', () => stream.close());
        wss.handleUpgrade(req, socket, head, (ws) => serveAttachSession(ws, protocol, attachQuery, stream));
      }, refused);
      return;
    }
    let q: ExecQuery;
    try {
      q = parseExecQuery(url.searchParams);
    } catch (e) {
      return refuse(socket, 400, e instanceof ExecQueryError ? e.message : String(e));
    }
    runtime.tasks
      .execStream(runtimeContainerName(ns, name), {
        cmd: q.command,
        ...(q.user ? { user: q.user } : {}),
        ...(q.workingDir ? { workingDir: q.workingDir } : {}),
        ...(q.env.length ? { env: q.env } : {}),
        ...(q.tty ? { tty: { cols: 80, rows: 24 } } : {}),
      })
      .then(
        (stream) => {
          // Whether or not the upgrade completes, a client that goes away takes the process with it.
          if (socket.destroyed) return stream.kill();
          socket.once('close', () => stream.kill());
          wss.handleUpgrade(req, socket, head, (ws) => serveExecSession(ws, protocol, q, stream));
        },
        refused,
      );
  };
}
