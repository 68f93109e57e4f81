/**
 * Exec and attach over WebSocket through the API server, as kube-apiserver proxies pods/exec and
 * pods/attach to kubelets:
 * the (already authenticated) upgrade request is checked — path, query, the Container and its
 * node — then sent on to that node's agent over TLS as the API server (agents.ts), never with the user's credentials. Once the
 * agent switches protocols the two connections are spliced, so the remotecommand frames pass
 * through unchanged both ways. Refusals, ours or the agent's, are Status objects.
 */
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ExecQueryError, parseAttachQuery, parseExecQuery } from '../api/exec-query.js';
import { apiRequests } from '../metrics/apiserver.js';
import { refuseUpgrade } from '../util/refuse-upgrade.js';
import type { AgentProxyOptions } from './agent-proxy.js';
import { agentError, agentLocator, agentUnreachable } from './agents.js';
import type { UpgradeHandler } from './server.js';
import { ApiError, errors } from './status.js';

const PATH = /^\/apis\/berth\.dev\/v1alpha1\/namespaces\/([^/]+)\/containers\/([^/]+)\/(exec|attach)$/;
/** The handshake headers the agent must see to answer the client's WebSocket handshake. */
const HANDSHAKE = ['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol'] as const;

export function execProxyUpgrade(o: AgentProxyOptions): UpgradeHandler {
  const agents = agentLocator(o.resources, o.kinds);
  const count = (code: number, sub = 'exec') => apiRequests.inc({ verb: 'CONNECT', resource: 'containers', subresource: sub, code: String(code) });
  const refuse = (socket: Duplex, e: unknown, sub?: string): void => {
    const err = e instanceof ApiError ? e : errors.internal(e instanceof Error ? e.message : String(e));
    count(err.code, sub);
    refuseUpgrade(socket, err.code, err.toStatus());
  };

  /** Sends the upgrade on to the agent; splices the connections once it switches protocols. */
  const proxy = (req: IncomingMessage, socket: Duplex, head: Buffer, target: URL, nodeName: string, sub: string): void => {
    const headers: Record<string, string> = { connection: 'Upgrade', upgrade: 'websocket' };
    for (const h of HANDSHAKE) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    let tls: https.RequestOptions;
    try {
      tls = o.connections.options(nodeName, target);
    } catch (e) {
      return refuse(socket, e, sub);
    }
    const upstream = https.request(target, { ...tls, method: 'GET', headers });
    let spliced = false;
    socket.once('close', () => {
      if (!spliced) upstream.destroy();
    });
    upstream.on('upgrade', (res, agentSocket: Socket, agentHead: Buffer) => {
      spliced = true;
      if (socket.destroyed) return agentSocket.destroy();
      count(101, sub);
      const lines = ['HTTP/1.1 101 Switching Protocols'];
      for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (agentHead.length) socket.write(agentHead);
      if (head.length) agentSocket.write(head);
      for (const s of [socket as Socket, agentSocket]) s.setNoDelay?.(true);
      agentSocket.pipe(socket);
      socket.pipe(agentSocket);
      // The agent closing sends what is still queued (the exit status); the client going away ends the exec.
      agentSocket.once('close', () => socket.end());
      socket.once('close', () => agentSocket.destroy());
      agentSocket.on('error', () => socket.destroy());
    });
    upstream.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => refuse(socket, agentError(res.statusCode ?? 502, Buffer.concat(chunks).toString('utf8')), sub));
    });
    upstream.on('error', (err) => {
      if (!spliced) refuse(socket, agentUnreachable(nodeName, err), sub);
    });
    upstream.end();
  };

  const handle = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    const url = new URL(req.url ?? '/', 'https://apiserver');
    const m = PATH.exec(url.pathname);
    if (!m) throw errors.badRequest(`no WebSocket endpoint at ${url.pathname}: only containers/NAME/exec and containers/NAME/attach take an upgrade`);
    const sub = m[3]!;
    if (req.method !== 'GET') throw errors.badRequest(`a WebSocket upgrade needs GET, not ${req.method}`);
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      throw errors.badRequest(`Upgrade: only websocket is supported, with subprotocol v5.channel.k8s.io or v4.channel.k8s.io (got "${req.headers.upgrade}")`);
    }
    try {
      if (sub === 'attach') parseAttachQuery(url.searchParams);
      else parseExecQuery(url.searchParams);
    } catch (e) {
      if (!(e instanceof ExecQueryError)) throw e;
      throw errors.badRequest(e.message, [{ field: e.field, reason: 'FieldValueInvalid', message: e.detail }]);
    }
    const [ns, name] = [decodeURIComponent(m[1]!), decodeURIComponent(m[2]!)];
    const { nodeName, endpoint } = await agents.container(ns, name);
    const target = new URL(`/containers/${encodeURIComponent(ns)}/${encodeURIComponent(name)}/${sub}${url.search}`, endpoint);
    proxy(req, socket, head, target, nodeName, sub);
  };

  return (req, socket, head) => {
    handle(req, socket, head).catch((e: unknown) => refuse(socket, e));
  };
}
