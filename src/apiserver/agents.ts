/**
 * Where the agent of a container's (or a node's) node listens, from Node status.agentEndpoint,
 * and how its error answers ({message}) become Status errors for clients.
 */
import https from 'node:https';
import type { PeerCertificate } from 'node:tls';
import { nodeUserName, type AgentTlsCredentials } from '../api/agent-tls.js';
import type { KindInfo } from '../api/kind.js';
import type { Resources } from './resources.js';
import { ApiError, errors, type StatusReason } from './status.js';

export interface AgentLocator {
  /** The endpoint URL of a node's agent; 503 when it has none. */
  node(nodeName: string): Promise<string>;
  /** The node a Container is bound to and its agent's endpoint; 404 for no such Container. */
  container(namespace: string, name: string): Promise<{ nodeName: string; endpoint: string }>;
}

export function agentLocator(resources: Resources, kinds: KindInfo[]): AgentLocator {
  const containerKind = kinds.find((k) => k.group === 'berth.dev' && k.plural === 'containers');
  const nodeKind = kinds.find((k) => k.group === 'berth.dev' && k.plural === 'nodes');
  if (!containerKind || !nodeKind) throw new Error('agent proxy: containers and nodes must be registered');

  const node = async (nodeName: string): Promise<string> => {
    let url: string | undefined;
    try {
      const obj = (await resources.get(nodeKind, '', nodeName)) as { status?: { agentEndpoint?: { url?: string } } };
      url = obj.status?.agentEndpoint?.url;
    } catch {
      // no such node: no endpoint
    }
    if (!url) throw new ApiError(503, 'InternalError', `node "${nodeName}" has no agent endpoint (is its agent running?)`);
    return url;
  };

  return {
    node,
    async container(namespace, name) {
      let ctr;
      try {
        ctr = (await resources.get(containerKind, namespace, name)) as { spec?: { nodeName?: string } };
      } catch {
        throw errors.notFound({ group: 'berth.dev', plural: 'containers' }, name);
      }
      const nodeName = ctr.spec?.nodeName;
      if (!nodeName) throw errors.badRequest(`container "${name}" is not bound to a node yet (spec.nodeName is empty)`);
      return { nodeName, endpoint: await node(nodeName) };
    },
  };
}

/** An agent's error answer as the Status error the API server gives its client. */
export function agentError(code: number, body: string): ApiError {
  let message = body;
  try {
    message = (JSON.parse(body) as { message?: string }).message ?? body;
  } catch {
    // plain text
  }
  const reasons: Record<number, StatusReason> = { 400: 'BadRequest', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed', 409: 'Conflict', 413: 'RequestEntityTooLarge', 502: 'InternalError' };
  const reason = reasons[code] ?? 'InternalError';
  return new ApiError(code, reason, message);
}

/**
 * How the API server calls a node's agent: HTTPS only, the agent's certificate checked against
 * Berth's CA and its CN against system:node:NAME of the node being called (an endpoint that is
 * not that node's agent fails the handshake, before any request is sent), and the API server's
 * own client certificate as its credential. One keep-alive pool per node, so that a connection
 * verified for one node never carries a request for another.
 */
export class AgentConnections {
  private readonly pools = new Map<string, https.Agent>();

  constructor(private readonly tls: AgentTlsCredentials) {}

  /** Request options for `target` on node `nodeName`; a 502 for an endpoint that is not https. */
  options(nodeName: string, target: URL): https.RequestOptions {
    if (target.protocol !== 'https:') {
      throw new ApiError(502, 'InternalError', `agent of node "${nodeName}": endpoint ${target.origin} is not https (agent endpoints are TLS with a certificate from Berth's CA)`);
    }
    let agent = this.pools.get(nodeName);
    if (!agent) {
      const expected = nodeUserName(nodeName);
      agent = new https.Agent({
        keepAlive: true,
        maxFreeSockets: 4,
        ca: this.tls.ca,
        cert: this.tls.cert,
        key: this.tls.key,
        checkServerIdentity: (_host: string, cert: PeerCertificate): Error | undefined => {
          const cn = cert.subject?.CN;
          const name = Array.isArray(cn) ? cn[0] : cn;
          return name === expected ? undefined : new Error(`the endpoint's certificate is for "${String(name)}", not ${expected}`);
        },
      });
      this.pools.set(nodeName, agent);
    }
    return { agent };
  }

  close(): void {
    for (const a of this.pools.values()) a.destroy();
    this.pools.clear();
  }
}

/** A failure to reach an agent as the Status its client gets: 502 naming the node and the cause. */
export function agentUnreachable(nodeName: string, err: Error): ApiError {
  const code = (err as { code?: string }).code ?? '';
  const tls = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|SSL/i.test(code) || /certificate/i.test(err.message);
  return new ApiError(502, 'InternalError', `agent of node "${nodeName}": ${tls ? 'TLS verification failed, nothing was sent: ' : ''}${err.message}`);
}
