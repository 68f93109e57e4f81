import https from 'node:https';
import { KubeConfig, type RequestContext } from '@kubernetes/client-node';

/**
 * A KubeConfig whose API calls share one keep-alive HTTPS agent. client-node makes a new
 * https.Agent for every request, so every call paid a TLS handshake and a fresh secure context
 * (parsing the CA): measured at about a third of the all-in-one server's CPU per started container.
 * The agent is replaced when the TLS material changes (an exec plugin rotating client certificates).
 */
const TLS_KEYS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const;

/** client-node reads the files anew for every request: equal content, new Buffers. */
function sameValue(a: unknown, b: unknown): boolean {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  return a === b;
}

export class PooledKubeConfig extends KubeConfig {
  private pooled: https.Agent | undefined;

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const fresh = context.getAgent();
    if (!(fresh instanceof https.Agent) || fresh.constructor !== https.Agent) return; // proxies keep their own agents
    const o = fresh.options;
    let agent = this.pooled;
    const p = agent?.options;
    if (!agent || !p || !TLS_KEYS.every((k) => sameValue(p[k], o[k]))) {
      agent?.destroy();
      agent = this.pooled = new https.Agent({ ...o, keepAlive: true, maxSockets: 16 });
    }
    context.setAgent(agent);
  }
}
