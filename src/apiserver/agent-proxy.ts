/**
 * Proxies the Container log, exec, attach, kill, changes, export, top and stats subresources to the agent of the container's
 * node, as the Kubernetes API server does for pods and kubelets: the API server authenticates the
 * user, finds the node's agent endpoint in Node status.agentEndpoint and calls it over TLS as
 * itself (agents.ts: the agent's certificate must be that node's, the API server presents its client
 * certificate; the user's credentials are never passed on). Nodes have two subresources: build (POST nodes/NAME/build) and proxy
 * (nodes/NAME/proxy/PATH, Kubernetes' kubelet proxy), which reaches only the paths of the node
 * image API (src/api/node-api.ts); any other path is refused here, before the agent is asked.
 */
import https from 'node:https';
import type express from 'express';
import type { Request, Response } from 'express';
import type { KindInfo } from '../api/kind.js';
import { matchNodeApiRoute, nodeApiPathExists, REGISTRY_AUTH_HEADER } from '../api/node-api.js';
import type { SubresourceVerbs } from './discovery.js';
import type { Resources } from './resources.js';
import { agentError, agentLocator, agentUnreachable, type AgentConnections } from './agents.js';
import { ApiError, errors } from './status.js';
import { sendError } from './app.js';

export interface AgentProxyOptions {
  resources: Resources;
  kinds: KindInfo[];
  /** How agents are called: Berth's CA, the API server's client certificate, one pool per node. */
  connections: AgentConnections;
}

const SUBRESOURCES: SubresourceVerbs = { log: ['get'], exec: ['create', 'get'], attach: ['create', 'get'], kill: ['create'], changes: ['get'], export: ['get'], top: ['get'], stats: ['get'], archive: ['get', 'update'] };

export function agentSubresources(k: KindInfo): SubresourceVerbs {
  if (k.group === 'berth.dev' && k.plural === 'containers') return SUBRESOURCES;
  // POST nodes/NAME/build: a Dockerfile build on that node, the context tar as body (docker build);
  // nodes/NAME/proxy/PATH: the node image API (images, commit, system/df, auth, build).
  // nodes/NAME/certificate: the agent endpoint's certificate (node-certificate.ts)
  if (k.group === 'berth.dev' && k.plural === 'nodes') return { build: ['create'], proxy: ['create', 'delete', 'get'], certificate: ['create'] };
  return {};
}

const NODE_PATH = /^\/apis\/berth\.dev\/v1alpha1\/nodes\/([^/]+)\/build$/;
const NODE_PROXY_PATH = /^\/apis\/berth\.dev\/v1alpha1\/nodes\/([^/]+)\/proxy(\/.*)?$/;
/** An agent's error answer is read into memory to become a Status: at most this much of it. */
const MAX_ERROR_BODY = 64 * 1024;
const PATH = /^\/apis\/berth\.dev\/v1alpha1\/namespaces\/([^/]+)\/containers\/([^/]+)\/(log|exec|attach|kill|changes|export|top|stats|archive)$/;

export function agentProxyRoutes(o: AgentProxyOptions): (app: express.Express) => void {
  const agents = agentLocator(o.resources, o.kinds);

  /** Streams the request to the agent and its answer back; agent errors become Status objects. */
  const forward = (req: Request, res: Response, endpoint: string, agentPath: string, nodeName: string): void => {
    const query = req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?')) : '';
    const target = new URL(`${agentPath}${query}`, endpoint);
    let tls: https.RequestOptions;
    try {
      tls = o.connections.options(nodeName, target);
    } catch (e) {
      return sendError(res, e);
    }
    const headers: Record<string, string> = { 'content-type': req.get('content-type') ?? 'application/json' };
    // registry credentials for pulls and pushes, passed on as they came (never logged)
    const registryAuth = req.get(REGISTRY_AUTH_HEADER);
    if (registryAuth !== undefined) headers[REGISTRY_AUTH_HEADER] = registryAuth;
    const upstream = https.request(target, { ...tls, method: req.method, headers }, (up) => {
      const code = up.statusCode ?? 502;
      if (code >= 400) {
        // The agent answers errors as {message}; give clients a Status like every other error.
        const chunks: Buffer[] = [];
        let size = 0;
        up.on('data', (c: Buffer) => {
          if (size >= MAX_ERROR_BODY) return;
          size += c.length;
          chunks.push(c);
        });
        up.on('end', () => sendError(res, agentError(code, Buffer.concat(chunks).toString('utf8').slice(0, MAX_ERROR_BODY))));
        return;
      }
      res.status(code);
      const type = up.headers['content-type'];
      if (type) res.setHeader('content-type', type);
      res.setHeader('cache-control', 'no-cache');
      res.flushHeaders();
      up.pipe(res);
    });
    upstream.on('error', (err) => sendError(res, agentUnreachable(nodeName, err)));
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  };

  const handle = async (req: Request, res: Response): Promise<void> => {
    const m = PATH.exec(req.path);
    if (!m) return sendError(res, errors.pathNotFound(req.path));
    const [, nsRaw, nameRaw, sub] = m as unknown as [string, string, string, string];
    const ns = decodeURIComponent(nsRaw);
    const name = decodeURIComponent(nameRaw);
    const labels = res.locals.labels as { verb: string; resource: string; subresource: string } | undefined;
    if (labels) Object.assign(labels, { resource: 'containers', subresource: sub });
    if (sub === 'exec' && req.method === 'GET') {
      return sendError(res, errors.badRequest('exec over GET needs a WebSocket upgrade (Upgrade: websocket, subprotocol v5.channel.k8s.io); POST runs it buffered'));
    }
    if (sub === 'exec' && req.method !== 'POST') return sendError(res, errors.methodNotAllowed(req.method));
    if (sub === 'attach') return sendError(res, errors.badRequest('attach needs a WebSocket upgrade (Upgrade: websocket, subprotocol v5.channel.k8s.io)'));
    if (sub === 'kill' && req.method !== 'POST') return sendError(res, errors.methodNotAllowed(req.method));
    if (sub === 'archive' && req.method !== 'GET' && req.method !== 'PUT') return sendError(res, errors.methodNotAllowed(req.method));
    if (sub !== 'exec' && sub !== 'archive' && sub !== 'kill' && req.method !== 'GET') return sendError(res, errors.methodNotAllowed(req.method));
    const { nodeName, endpoint } = await agents.container(ns, name);
    forward(req, res, endpoint, `/containers/${encodeURIComponent(ns)}/${encodeURIComponent(name)}/${sub}`, nodeName);
  };

  const handleNode = async (req: Request, res: Response): Promise<void> => {
    const m = NODE_PATH.exec(req.path);
    if (!m) return sendError(res, errors.pathNotFound(req.path));
    const nodeName = decodeURIComponent(m[1]!);
    const labels = res.locals.labels as { verb: string; resource: string; subresource: string } | undefined;
    if (labels) Object.assign(labels, { resource: 'nodes', subresource: 'build' });
    if (req.method !== 'POST') return sendError(res, errors.methodNotAllowed(req.method));
    forward(req, res, await agents.node(nodeName), '/build', nodeName);
  };

  /** nodes/NAME/proxy/PATH: only paths of the node image API reach the agent. */
  const handleNodeProxy = async (req: Request, res: Response): Promise<void> => {
    const m = NODE_PROXY_PATH.exec(req.path);
    if (!m) return sendError(res, errors.pathNotFound(req.path));
    const labels = res.locals.labels as { verb: string; resource: string; subresource: string } | undefined;
    if (labels) Object.assign(labels, { resource: 'nodes', subresource: 'proxy' });
    const nodeName = decodeURIComponent(m[1]!);
    // The path as the agent will see it: dot segments resolved here, so what is checked is what is sent.
    const path = new URL(m[2] ?? '/', 'http://node').pathname;
    if (!matchNodeApiRoute(req.method, path)) {
      if (nodeApiPathExists(path)) return sendError(res, errors.methodNotAllowed(req.method));
      return sendError(res, new ApiError(404, 'NotFound', `the node API of node "${nodeName}" has no path ${path} (it serves images/..., commit, system/df, auth and build)`));
    }
    forward(req, res, await agents.node(nodeName), path, nodeName);
  };

  return (app) => {
    app.all(PATH, (req, res) => {
      handle(req, res).catch((err: unknown) => sendError(res, err));
    });
    app.all(NODE_PATH, (req, res) => {
      handleNode(req, res).catch((err: unknown) => sendError(res, err));
    });
    app.all(NODE_PROXY_PATH, (req, res) => {
      handleNodeProxy(req, res).catch((err: unknown) => sendError(res, err));
    });
  };
}
