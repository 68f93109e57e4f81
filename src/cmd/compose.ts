/**
 * How Berth's processes are put together, for the role commands (server, apiserver, controller,
 * agent) and for tests that run a role in their own process: the API server on a store, the
 * controllers on an API client, the agent on an API client and a runtime. `berth server` is all of
 * them in one process, its controllers and agent speaking to the API server through the in-process
 * transport (the same handlers, authentication and admission as over HTTPS).
 */
import { join } from 'node:path';
import { Agent } from '../agent/agent.js';
import { ensureNodeCertificate } from '../agent/node-certificate.js';
import type { ApiServer } from '../apiserver/server.js';
import { startApi } from './api-role.js';
import type { UserInfo } from '../apiserver/auth/authn.js';
import { CONTROLLER_USER, NODES_GROUP, nodeUser } from '../apiserver/auth/bootstrap.js';
import type { NetworkOptions } from '../agent/network-reconciler.js';
import type { WatchSettings } from '../apiserver/watch.js';
import type { PodSecurityOptions } from '../apiserver/pod-security.js';
import { ApiClient } from '../client/api-client.js';
import { InformerFactory } from '../client/informer.js';
import { inProcessKubeConfig } from '../client/kubeconfig.js';
import type { ControllerContext, RunnableController } from '../controllers/context.js';
import { GarbageCollector } from '../controllers/garbage-collector.js';
import { defaultGitSyncCacheDir, GitSyncController } from '../controllers/gitsync/index.js';
import { NamespaceController } from '../controllers/namespace-controller.js';
import { NodeLifecycleController } from '../controllers/node-lifecycle.js';
import { Scheduler } from '../controllers/scheduler.js';
import { nodeDistribution } from '../runtime/distribution/node.js';
import { Runtime, type Distribution } from '../runtime/index.js';
import { AutoRemover } from '../dockerapi/auto-remove.js';
import { DockerApiServer } from '../dockerapi/server.js';
import type { RequestOptions } from 'node:https';
import type { Store } from '../store/types.js';
import { logFn, type LogFn } from '../util/log.js';

export { startApi, type ApiRoleOptions } from './api-role.js';

/**
 * An API client of the server in this process, authenticated as the admin or, given `user`, as
 * that identity (a token only this process knows). Either way its requests pass authentication,
 * authorisation and admission like any other.
 */
export function inProcessClient(api: ApiServer, user?: UserInfo): ApiClient {
  const token = user ? api.issueProcessToken(user) : api.credentials.adminToken;
  return new ApiClient(inProcessKubeConfig(() => api.connectInProcess(), token, user ? user.name : 'berth-in-process'));
}

/** The identity of the controllers composed into a server: system:berth-controller. */
export const controllerIdentity: UserInfo = { name: CONTROLLER_USER, groups: [] };

/** The identity of a node's agent: system:node:NAME in system:nodes (ClusterRole system:node). */
export function nodeIdentity(nodeName: string): UserInfo {
  return { name: nodeUser(nodeName), groups: [NODES_GROUP] };
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
  /** The GitSync controller's clone cache (berth server: <data-dir>/gitsync). */
  gitsyncCacheDir?: string;
  log?: LogFn;
}

/** The cluster's controllers on one API client, sharing one set of informers; resolves once they run. */
export async function startControllers(client: ApiClient, o: ControllerOptions = {}): Promise<ControllerSet> {
  const log = o.log ?? logFn('controller');
  const informers = new InformerFactory(log);
  const ctx: ControllerContext = { client, informers, log };
  const makers: Record<string, () => RunnableController> = {
    garbage_collector: () => new GarbageCollector(ctx),
    namespace: () => new NamespaceController(ctx),
    scheduler: () => new Scheduler(ctx),
    node_lifecycle: () => new NodeLifecycleController(ctx, o.nodeGraceMs),
    gitsync: () => new GitSyncController(ctx, { cacheDir: o.gitsyncCacheDir ?? defaultGitSyncCacheDir() }),
  };
  const controllers = Object.entries(makers)
    .filter(([name]) => !o.only || o.only.includes(name))
    .map(([, make]) => make());
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
  endpointHost?: string;
  endpointPort?: number;
  /** Runtime state directory (default <dataDir>/runtime). */
  runtimeRoot?: string;
  cgroupParent?: string;
  /** Builds may fetch file:// and local git repositories. */
  gitAllowFileUrls?: boolean;
  /** The default network, the user networks' pool, the embedded DNS's upstreams. */
  network?: NetworkOptions;
  log?: LogFn;
}

/** This node's runtime and the agent that alone writes it. */
export async function startAgent(o: AgentRoleOptions): Promise<{ agent: Agent; runtime: Runtime; distribution: Distribution }> {
  const runtime = new Runtime({
    root: o.runtimeRoot ?? join(o.dataDir, 'runtime'),
    ...(o.cgroupParent ? { cgroupParent: o.cgroupParent } : {}),
    ...(o.gitAllowFileUrls ? { gitAllowFileUrls: true } : {}),
  });
  const distribution = await nodeDistribution(runtime.images, runtime.root, o.dataDir);
  // the endpoint's certificate from Berth's CA, through the API as this node (kept across restarts)
  const endpointTls = await ensureNodeCertificate(o.client, o.nodeName, join(o.dataDir, 'agent-tls'));
  const agent = new Agent({
    client: o.client,
    runtime,
    distribution,
    nodeName: o.nodeName,
    endpointTls,
    ...(o.endpointHost ? { endpointHost: o.endpointHost } : {}),
    ...(o.endpointPort !== undefined ? { endpointPort: o.endpointPort } : {}),
    ...(o.network ? { network: o.network } : {}),
    ...(o.log ? { log: o.log } : {}),
  });
  await agent.start();
  return { agent, runtime, distribution };
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
  network?: NetworkOptions;
  podSecurity?: PodSecurityOptions;
  watch?: WatchSettings;
  gitAllowFileUrls?: boolean;
  log?: LogFn;
}

export interface AllInOne {
  api: ApiServer;
  agent: Agent | undefined;
  runtime: Runtime | undefined;
  /** The agent's registry client (to give it the node's login at this server's registry). */
  distribution: Distribution | undefined;
  controllers: ControllerSet;
  /** Stops the agent (containers keep running), the controllers and the API server. */
  close(): Promise<void>;
}

/** What `berth server` runs: API server, controllers and this node's agent in one process. */
export async function startAllInOne(o: AllInOneOptions): Promise<AllInOne> {
  const api = await startApi({ store: o.store, dataDir: o.dataDir, listen: o.listen, ...(o.podSecurity ? { podSecurity: o.podSecurity } : {}), ...(o.watch ? { watch: o.watch } : {}) });
  const client = inProcessClient(api, controllerIdentity);
  const controllers = await startControllers(client, {
    ...(o.nodeGraceMs ? { nodeGraceMs: o.nodeGraceMs } : {}),
    ...(o.log ? { log: o.log } : {}),
    gitsyncCacheDir: join(o.dataDir, 'gitsync'),
  });
  const nodeClient = o.agent !== false ? inProcessClient(api, nodeIdentity(o.nodeName)) : undefined;
  // docker run --rm -d: Containers annotated berth.dev/auto-remove go once they exited, in every namespace
  const remover = new AutoRemover(client, undefined, o.log ?? logFn('server'));
  await remover.start();
  let agent: Agent | undefined;
  let runtime: Runtime | undefined;
  let distribution: Distribution | undefined;
  if (o.agent !== false) {
    ({ agent, runtime, distribution } = await startAgent({
      client: nodeClient!,
      dataDir: o.dataDir,
      nodeName: o.nodeName,
      ...(o.runtimeRoot ? { runtimeRoot: o.runtimeRoot } : {}),
      ...(o.cgroupParent ? { cgroupParent: o.cgroupParent } : {}),
      ...(o.gitAllowFileUrls ? { gitAllowFileUrls: true } : {}),
      ...(o.network ? { network: o.network } : {}),
      ...(o.log ? { log: o.log } : {}),
    }));
  }
  return {
    api,
    agent,
    runtime,
    distribution,
    controllers,
    async close() {
      remover.stop();
      await agent?.stop();
      await runtime?.close();
      await controllers.stop();
      client.close();
      nodeClient?.close();
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
