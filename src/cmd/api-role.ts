/**
 * The API server role on its own (`berth apiserver`, and the API part of `berth server`): the API
 * server with the agent proxies (logs, exec, builds, node image API). Kept apart from compose.ts so
 * that a process serving only the API does not load the API client, the agent or the runtime.
 */
import { kinds } from '../api/registry.js';
import { openapiV3GroupVersion, openapiV3Index } from '../api/openapi.js';
import { agentProxyRoutes, agentSubresources } from '../apiserver/agent-proxy.js';
import { execProxyUpgrade } from '../apiserver/exec-proxy.js';
import type { PodSecurityOptions } from '../apiserver/pod-security.js';
import { startApiServer, type ApiServer } from '../apiserver/server.js';
import type { WatchSettings } from '../apiserver/watch.js';
import type { Store } from '../store/types.js';

export interface ApiRoleOptions {
  store: Store;
  dataDir: string;
  listen: string;
  /** Token the agents' endpoints accept (the API server's proxy sends it). */
  agentToken: string;
  watch?: WatchSettings;
  compactAfterMs?: number;
  podSecurity?: PodSecurityOptions;
}

/** The API server with the agent proxies (logs, exec, builds, node image API). */
export function startApi(o: ApiRoleOptions): Promise<ApiServer> {
  return startApiServer({
    store: o.store,
    kinds,
    openapi: { index: openapiV3Index, groupVersion: openapiV3GroupVersion },
    dataDir: o.dataDir,
    listen: o.listen,
    ...(o.watch ? { watch: o.watch } : {}),
    ...(o.compactAfterMs !== undefined ? { compactAfterMs: o.compactAfterMs } : {}),
    ...(o.podSecurity ? { podSecurity: o.podSecurity } : {}),
    subresources: agentSubresources,
    extraRoutes: (resources) => agentProxyRoutes({ resources, kinds, agentToken: o.agentToken }),
    upgrade: (resources) => execProxyUpgrade({ resources, kinds, agentToken: o.agentToken }),
  });
}
