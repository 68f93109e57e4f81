/**
 * How Berth's processes are put together, for the role commands (server, apiserver, controller,
 * agent) and for tests that run a role in their own process: the API server on a store, the
 * controllers on an API client, the agent on an API client and a runtime. `berth server` is all of
 * them in one process, its controllers and agent speaking to the API server through the in-process
 * transport (the same handlers, authentication and admission as over HTTPS).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Agent } from '../agent/agent.js';
import { kinds } from '../api/registry.js';
import { openapiV3GroupVersion, openapiV3Index } from '../api/openapi.js';
import { agentProxyRoutes, agentSubresources } from '../apiserver/agent-proxy.js';
import { execProxyUpgrade } from '../apiserver/exec-proxy.js';
import { startApiServer, type ApiServer } from '../apiserver/server.js';
import type { WatchSettings } from '../apiserver/watch.js';
import { ApiClient } from '../client/api-client.js';
import { InformerFactory } from '../client/informer.js';
import { inProcessKubeConfig } from '../client/kubeconfig.js';
import type { ControllerContext, RunnableController } from '../controllers/context.js';
import { GarbageCollector } from '../controllers/garbage-collector.js';
import { NamespaceController } from '../controllers/namespace-controller.js';
import { NodeLifecycleController } from '../controllers/node-lifecycle.js';
import { Scheduler } from '../controllers/scheduler.js';
import { nodeDistribution } from '../runtime/distribution/node.js';
import { Runtime } from '../runtime/index.js';
import { AutoRemover } from '../dockerapi/auto-remove.js';
import { DockerApiServer } from '../dockerapi/server.js';
import type { RequestOptions } from 'node:https';
import type { Store } from '../store/types.js';

export interface ApiRoleOptions {
  store: Store;
  dataDir: string;
  listen: string;
  /** Token the agents' endpoints accept (the API server's proxy sends it). */
  agentToken: string;
  watch?: WatchSettings;
  compactAfterMs?: number;
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
    subresources: agentSubresources,
    extraRoutes: (resources) => agentProxyRoutes({ resources, kinds, agentToken: o.agentToken }),
    upgrade: (resources) => execProxyUpgrade({ resources, kinds, agentToken: o.agentToken }),
  });
}

/** An API client of the server in this process, authenticated as the admin. */
export function inProcessClient(api: ApiServer): ApiClient {
  return new ApiClient(inProcessKubeConfig(() => api.connectInProcess(), api.credentials.adminToken, 'berth-in-process'));
}

export interface ControllerSet {
  controllers: RunnableController[];
  stop(): Promise<void>;
}

export interface ControllerOptions {
  /** Silence after which a Node is Ready=Unknown (default 40 s). */
  nodeGraceMs?: number;
  /** Which controllers to run (default all). */
  only?: string[];
  log?: (msg: string) => void;
}

/** The cluster's controllers on one API client, sharing one set of informers; resolves once they run. */
export async function startControllers(client: ApiClient, o: ControllerOptions = {}): Promise<ControllerSet> {
  const log = o.log ?? ((m: string) => console.error(`berth controller: ${m}`));
  const informers = new InformerFactory(log);
  const ctx: ControllerContext = { client, informers, log };
  const all: RunnableController[] = [new GarbageCollector(ctx), new NamespaceController(ctx), new Scheduler(ctx), new NodeLifecycleController(ctx, o.nodeGraceMs)];
  const controllers = o.only ? all.filter((c) => o.only!.includes(c.name)) : all;
  await informers.start();
  await Promise.all(controllers.map((c) => c.start()));
  return {
    controllers,
    async stop() {
      informers.stop();
      await Promise.all(controllers.map((c) => c.stop()));
    },
  };
}

export interface AgentRoleOptions {
  client: ApiClient;
  dataDir: string;
  nodeName: string;
  endpointToken: string;
  endpointHost?: string;
  endpointPort?: number;
  /** Runtime state directory (default <dataDir>/runtime). */
  runtimeRoot?: string;
  cgroupParent?: string;
  log?: (msg: string) => void;
}

/** This node's runtime and the agent that alone writes it. */
export async function startAgent(o: AgentRoleOptions): Promise<{ agent: Agent; runtime: Runtime }> {
  const runtime = new Runtime({ root: o.runtimeRoot ?? join(o.dataDir, 'runtime'), ...(o.cgroupParent ? { cgroupParent: o.cgroupParent } : {}) });
  const distribution = await nodeDistribution(runtime.images, runtime.root, o.dataDir);
  const agent = new Agent({
    client: o.client,
    runtime,
    distribution,
    nodeName: o.nodeName,
    endpointToken: o.endpointToken,
    ...(o.endpointHost ? { endpointHost: o.endpointHost } : {}),
    ...(o.endpointPort !== undefined ? { endpointPort: o.endpointPort } : {}),
    ...(o.log ? { log: o.log } : {}),
  });
  await agent.start();
  return { agent, runtime };
}

export interface AllInOneOptions {
  store: Store;
  dataDir: string;
  listen: string;
  nodeName: string;
  /** Run the agent in this process (default true). */
  agent?: boolean;
  runtimeRoot?: string;
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
  controllers: ControllerSet;
  /** Stops the agent (containers keep running), the controllers and the API server. */
  close(): Promise<void>;
}

/** What `berth server` runs: API server, controllers and this node's agent in one process. */
export async function startAllInOne(o: AllInOneOptions): Promise<AllInOne> {
  const agentToken = o.agentToken ?? randomBytes(32).toString('hex');
  const api = await startApi({ store: o.store, dataDir: o.dataDir, listen: o.listen, agentToken });
  const client = inProcessClient(api);
  const controllers = await startControllers(client, { ...(o.nodeGraceMs ? { nodeGraceMs: o.nodeGraceMs } : {}), ...(o.log ? { log: o.log } : {}) });
  // docker run --rm -d: Containers annotated berth.dev/auto-remove go once they exited, in every namespace
  const remover = new AutoRemover(client, undefined, o.log ?? ((m) => console.error(`berth server: ${m}`)));
  await remover.start();
  let agent: Agent | undefined;
  let runtime: Runtime | undefined;
  if (o.agent !== false) {
    ({ agent, runtime } = await startAgent({
      client,
      dataDir: o.dataDir,
      nodeName: o.nodeName,
      endpointToken: agentToken,
      ...(o.runtimeRoot ? { runtimeRoot: o.runtimeRoot } : {}),
      ...(o.cgroupParent ? { cgroupParent: o.cgroupParent } : {}),
      ...(o.log ? { log: o.log } : {}),
    }));
  }
  return {
    api,
    agent,
    runtime,
    controllers,
    async close() {
      remover.stop();
      await agent?.stop();
      await runtime?.close();
      await controllers.stop();
      client.close();
      await api.close();
    },
  };
}

export interface DockerApiRoleOptions {
  client: ApiClient;
  socketPath: string;
  nodeName: string;
  namespace?: string;
  group?: string;
  log?: (msg: string) => void;
}

/** The Docker Engine API on a unix socket, speaking to the API server through `client` (its identity). */
export async function startDockerApi(o: DockerApiRoleOptions): Promise<DockerApiServer> {
  const cluster = o.client.kc.getCurrentCluster();
  if (!cluster) throw new Error('docker API: the client has no cluster');
  const options: RequestOptions = { headers: {} };
  await o.client.kc.applyToHTTPSOptions(options);
  const server = new DockerApiServer({
    client: o.client,
    conn: { server: cluster.server, options },
    socketPath: o.socketPath,
    nodeName: o.nodeName,
    ...(o.namespace ? { namespace: o.namespace } : {}),
    ...(o.group ? { group: o.group } : {}),
    ...(o.log ? { log: o.log } : {}),
  });
  await server.start();
  return server;
}
