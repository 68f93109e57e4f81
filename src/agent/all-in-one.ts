/**
 * Everything one node needs, in one process (what `berth server` runs): the API server on its
 * store, the controllers (scheduler, node lifecycle), and an agent for this node that talks to the
 * API through its kubeconfig like any remote agent would.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { kinds } from '../api/registry.js';
import { openapiV3GroupVersion, openapiV3Index } from '../api/openapi.js';
import { agentProxyRoutes, agentSubresources } from '../apiserver/agent-proxy.js';
import { execProxyUpgrade } from '../apiserver/exec-proxy.js';
import { startApiServer, type ApiServer } from '../apiserver/server.js';
import { KubeClient } from '../client/kube.js';
import { NodeLifecycleController } from '../controllers/node-lifecycle.js';
import { Scheduler } from '../controllers/scheduler.js';
import { nodeDistribution, Runtime } from '../runtime/index.js';
import type { Store } from '../store/types.js';
import { Agent } from './agent.js';

export interface AllInOneOptions {
  store: Store;
  dataDir: string;
  listen: string;
  nodeName: string;
  /** Run the agent in this process (default true). */
  agent?: boolean;
  /** Runtime state directory (default <dataDir>/runtime). */
  runtimeRoot?: string;
  /** Parent cgroup of the containers (default "berth"). */
  cgroupParent?: string;
  nodeGraceMs?: number;
  /** Token agent endpoints accept (default: a new random one, given to the in-process agent). */
  agentToken?: string;
  log?: (msg: string) => void;
}

export interface AllInOne {
  api: ApiServer;
  agent: Agent | undefined;
  runtime: Runtime | undefined;
  scheduler: Scheduler;
  /** Stops the agent (containers keep running), controllers and API server. */
  close(): Promise<void>;
}

export async function startAllInOne(o: AllInOneOptions): Promise<AllInOne> {
  const agentToken = o.agentToken ?? randomBytes(32).toString('hex');
  const api = await startApiServer({
    store: o.store,
    kinds,
    openapi: { index: openapiV3Index, groupVersion: openapiV3GroupVersion },
    dataDir: o.dataDir,
    listen: o.listen,
    subresources: agentSubresources,
    extraRoutes: (resources) => agentProxyRoutes({ resources, kinds, agentToken }),
    upgrade: (resources) => execProxyUpgrade({ resources, kinds, agentToken }),
  });
  const scheduler = new Scheduler(api.store, api.resources, kinds);
  const lifecycle = new NodeLifecycleController(api.store, api.resources, kinds, o.nodeGraceMs);
  await scheduler.start();
  lifecycle.start();
  let agent: Agent | undefined;
  let runtime: Runtime | undefined;
  if (o.agent !== false) {
    runtime = new Runtime({ root: o.runtimeRoot ?? join(o.dataDir, 'runtime'), ...(o.cgroupParent ? { cgroupParent: o.cgroupParent } : {}) });
    const distribution = await nodeDistribution(runtime.images, runtime.root, o.dataDir);
    agent = new Agent({ client: KubeClient.fromFile(api.kubeconfigPath), runtime, distribution, nodeName: o.nodeName, endpointToken: agentToken, ...(o.log ? { log: o.log } : {}) });
    await agent.start();
  }
  return {
    api,
    agent,
    runtime,
    scheduler,
    async close() {
      await agent?.stop();
      await runtime?.close();
      scheduler.stop();
      lifecycle.stop();
      await api.close();
    },
  };
}
