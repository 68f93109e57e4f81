/**
 * The API server role on its own (`berth apiserver`, and the API part of `berth server`): the API
 * server with the agent proxies (logs, exec, builds, node image API). Kept apart from compose.ts so
 * that a process serving only the API does not load the API client, the agent or the runtime.
 */
import { kinds } from '../api/registry.js';
import { openapiV3GroupVersion, openapiV3Index } from '../api/openapi.js';
import { agentProxyRoutes, agentSubresources } from '../apiserver/agent-proxy.js';
import { execProxyUpgrade } from '../apiserver/exec-proxy.js';
import { AgentConnections } from '../apiserver/agents.js';
import { nodeCertificateRoutes } from '../apiserver/node-certificate.js';
import { ensureApiserverClientCert } from '../apiserver/tls.js';
import type { PodSecurityOptions } from '../apiserver/pod-security.js';
import { startApiServer, type ApiServer } from '../apiserver/server.js';
import type { WatchSettings } from '../apiserver/watch.js';
import type { Store } from '../store/types.js';

export interface ApiRoleOptions {
  store: Store;
  dataDir: string;
  listen: string;
  watch?: WatchSettings;
  compactAfterMs?: number;
  podSecurity?: PodSecurityOptions;
}

/**
 * The API server with the agent proxies (logs, exec, builds, node image API), which call agents
 * over TLS with the API server's client certificate (<data-dir>/tls/apiserver-client.crt), and the
 * subresource through which agents get their endpoint's certificate (nodes/NAME/certificate).
 */
export async function startApi(o: ApiRoleOptions): Promise<ApiServer> {
  const connections = new AgentConnections(await ensureApiserverClientCert(o.dataDir));
  const certificates = nodeCertificateRoutes({ dataDir: o.dataDir });
  const api = await startApiServer({
    store: o.store,
    kinds,
    openapi: { index: openapiV3Index, groupVersion: openapiV3GroupVersion },
    dataDir: o.dataDir,
    listen: o.listen,
    ...(o.watch ? { watch: o.watch } : {}),
    ...(o.compactAfterMs !== undefined ? { compactAfterMs: o.compactAfterMs } : {}),
    ...(o.podSecurity ? { podSecurity: o.podSecurity } : {}),
    subresources: agentSubresources,
    extraRoutes: (resources) => {
      const proxies = agentProxyRoutes({ resources, kinds, connections });
      return (app) => {
        certificates(app);
        proxies(app);
      };
    },
    upgrade: (resources) => execProxyUpgrade({ resources, kinds, connections }),
  });
  const close = api.close.bind(api);
  api.close = async () => {
    connections.close();
    await close();
  };
  return api;
}
