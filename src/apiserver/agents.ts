/**
 * Where the agent of a container's (or a node's) node listens, from Node status.agentEndpoint,
 * and how its error answers ({message}) become Status errors for clients.
 */
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
