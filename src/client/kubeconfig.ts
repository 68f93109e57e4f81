/**
 * The two transports of the API client, both as a client-node KubeConfig so that everything built
 * on client-node (its generated APIs, Watch, the WebSocket exec) works the same over either:
 *
 * - HTTPS (`kubeConfigFromFile`): a kubeconfig's server, TLS settings and credentials, for separate
 *   processes and for a real Kubernetes cluster. client-node makes a new https.Agent for every
 *   request, so every call paid a TLS handshake and a fresh secure context (measured at about a third
 *   of the all-in-one server's CPU per started container): here all calls share one keep-alive agent,
 *   replaced only when the TLS material changes (an exec plugin rotating client certificates).
 * - In-process (`inProcessKubeConfig`): for the roles composed into `berth server`. Requests travel
 *   over in-memory sockets into the API server's own HTTP server, so they still pass authentication
 *   (a bearer token), admission and the same handlers as any remote client: nothing reaches around.
 */
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { KubeConfig, type RequestContext } from '@kubernetes/client-node';
import type WebSocket from 'ws';

const TLS_KEYS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const;

/** client-node reads the files anew for every request: equal content, new Buffers. */
function sameValue(a: unknown, b: unknown): boolean {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  return a === b;
}

type AgentHolder = { agent?: unknown };

/** A KubeConfig whose requests (API calls, watches, WebSockets) share one keep-alive agent. */
export class PooledKubeConfig extends KubeConfig {
  private pooled: https.Agent | undefined;

  /** The shared agent for what client-node just made, or undefined to keep client-node's (proxies). */
  protected pool(fresh: unknown): http.Agent | undefined {
    if (!(fresh instanceof https.Agent) || fresh.constructor !== https.Agent) return undefined;
    const o = fresh.options;
    let agent = this.pooled;
    const p = agent?.options;
    if (!agent || !p || !TLS_KEYS.every((k) => sameValue(p[k], o[k]))) {
      agent?.destroy();
      agent = this.pooled = new https.Agent({ ...o, keepAlive: true, maxSockets: 32 });
    }
    return agent;
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const agent = this.pool(context.getAgent());
    if (agent) context.setAgent(agent);
  }

  override async applyToHTTPSOptions(opts: https.RequestOptions | WebSocket.ClientOptions): Promise<void> {
    await super.applyToHTTPSOptions(opts);
    const holder = opts as AgentHolder;
    const agent = this.pool(holder.agent);
    if (agent) holder.agent = agent;
  }

  /** Closes the kept-alive connections (a stopping process). */
  close(): void {
    this.pooled?.destroy();
    this.pooled = undefined;
  }
}

/** A loaded KubeConfig's clusters, users and contexts with pooled connections. */
export function pooledFrom(kc: Pick<PooledKubeConfig, 'clusters' | 'users' | 'contexts' | 'currentContext'>): PooledKubeConfig {
  const out = new PooledKubeConfig();
  out.loadFromOptions({ clusters: kc.clusters, users: kc.users, contexts: kc.contexts, currentContext: kc.currentContext });
  return out;
}

export function kubeConfigFromFile(path: string): PooledKubeConfig {
  const kc = new PooledKubeConfig();
  kc.loadFromFile(path);
  return kc;
}

/** The in-process server URL: never resolved, never dialled. */
export const IN_PROCESS_SERVER = 'http://berth.in-process';

/** An http.Agent whose connections are in-memory sockets into the API server. */
class InProcessAgent extends http.Agent {
  constructor(private readonly connect: () => Duplex) {
    super({ keepAlive: true, maxSockets: 64 });
  }

  override createConnection(): Duplex {
    return this.connect();
  }
}

class InProcessKubeConfig extends PooledKubeConfig {
  private readonly agent: InProcessAgent;

  constructor(connect: () => Duplex) {
    super();
    this.agent = new InProcessAgent(connect);
  }

  protected override pool(): http.Agent {
    return this.agent;
  }

  override close(): void {
    this.agent.destroy();
  }
}

/**
 * A KubeConfig for a client in the API server's own process: `connect` gives a new socket into the
 * server's HTTP server (ApiServer.connectInProcess), `token` is the identity it authenticates as.
 */
export function inProcessKubeConfig(connect: () => Duplex, token: string, user = 'in-process'): PooledKubeConfig {
  const kc = new InProcessKubeConfig(connect);
  kc.loadFromOptions({
    // skipTLSVerify only lets client-node accept an http: server; nothing here is TLS
    clusters: [{ name: 'berth', server: IN_PROCESS_SERVER, skipTLSVerify: true }],
    users: [{ name: user, token }],
    contexts: [{ name: 'berth', cluster: 'berth', user }],
    currentContext: 'berth',
  });
  return kc;
}
