/** `berth server`: the all-in-one node — API server, controllers and this node's agent, on the embedded SQLite store. */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../client/api-client.js';
import { inProcessClient, nodeIdentity, startAllInOne, startDockerApi } from './compose.js';
import { nodeUser } from '../apiserver/auth/bootstrap.js';
import { apiRegistryAccess } from './registry-access.js';
import { registryLimitsFrom } from './registry.js';
import { networkFlags, networkOptionsFrom } from './network-flags.js';
import { onSignals } from './signals.js';
import { applyLogFlags, logFlags } from './logging.js';
import { podSecurityFrom, securityFlags, watchSettingsFrom } from './security-flags.js';
import { logger } from '../util/log.js';
import { openStore } from '../store/index.js';
import { parseCommand, type CommandSpec, type FlagSpecs } from '../cli/args.js';
import { resolveDataDir } from '../cli/data-dir.js';
import { CliError } from '../cli/errors.js';

const flags = {
  'data-dir': { type: 'string', valueName: 'DIR', description: 'state directory; the admin kubeconfig is written to DIR/kubeconfig, the runtime lives in DIR/runtime (default: /var/lib/berth as root, else $XDG_DATA_HOME/berth)' },
  listen: { type: 'string', valueName: 'HOST:PORT', default: '127.0.0.1:6443', description: 'address the API listens on (port 0 picks a free one)' },
  store: { type: 'string', valueName: 'SPEC', description: 'store to use: sqlite:PATH or memory: (default: sqlite:DIR/state.db)' },
  apply: { type: 'string', multiple: true, valueName: 'PATH', description: 'once ready, apply these manifests (file or directory), as `berth apply -f` does' },
  agent: { type: 'boolean', default: true, description: 'run the agent for this node in the server process; --no-agent serves the API and controllers only' },
  registry: { type: 'boolean', default: true, description: 'also serve the OCI registry (as `berth registry` does); --no-registry leaves it out' },
  'registry-listen': { type: 'string', valueName: 'HOST:PORT', default: '127.0.0.1:5000', description: 'address of the registry' },
  'registry-acl': { type: 'string', valueName: 'FILE', description: "the registry's users and access rules instead of Berth identities (as `berth registry --acl`); users are added with `berth registry --data-dir DIR --add-user`" },
  'registry-anonymous-pull': { type: 'boolean', description: 'the registry serves pulls without credentials (as `berth registry --anonymous-pull`)' },
  'registry-max-upload': { type: 'string', valueName: 'BYTES', default: String(10 * 1024 ** 3), description: 'largest blob the registry accepts (413 beyond; suffixes K, M, G)' },
  'registry-upload-ttl': { type: 'string', valueName: 'SECONDS', default: '3600', description: 'an upload untouched this long is abandoned and removed' },
  'node-name': { type: 'string', valueName: 'NAME', description: "this node's name (default: the hostname)" },
  'cgroup-parent': { type: 'string', valueName: 'NAME', description: 'parent cgroup of the containers (default "berth")' },
  ...securityFlags,
  ...logFlags,
  'git-allow-file-urls': { type: 'boolean', description: 'let Image builds fetch file:// URLs and local paths (git repositories on this node); off by default' },
  ...networkFlags,
  'docker-socket': { type: 'string', valueName: 'PATH', description: 'also serve the Docker Engine API on this unix socket (docker, docker-compose, dockerode; off by default)' },
  'docker-socket-group': { type: 'string', valueName: 'GROUP', description: 'group owning the Docker socket (mode 0660; default: root\'s group)' },
  'docker-namespace': { type: 'string', valueName: 'NS', description: 'namespace of the objects the Docker socket makes and sees (default "default")' },
  'docker-kubeconfig': { type: 'string', valueName: 'FILE', description: "identity the Docker socket acts with: whoever may open the socket acts as this kubeconfig's user (default: this process's own client)" },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const satisfies FlagSpecs;

const spec: CommandSpec<typeof flags> = {
  name: 'server',
  usage: 'berth server [--data-dir DIR] [--listen HOST:PORT] [--store SPEC] [--apply PATH]... [--no-agent] [--no-registry] [--registry-listen HOST:PORT] [--registry-acl FILE] [--registry-anonymous-pull]',
  summary: 'Run the all-in-one Berth server: the Kubernetes-style API on the embedded SQLite store, its controllers and the agent for this node.',
  flags,
  positionals: { min: 0, max: 0 },
  examples: ['berth server', 'berth server --data-dir /tmp/berth --listen 127.0.0.1:0 --apply manifests/examples', 'berth server --no-agent'],
};

export async function serverCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  applyLogFlags(parsed.values);
  const log = logger('server');
  const dataDir = resolveDataDir(parsed.values['data-dir']);
  const aclFile = parsed.values['registry-acl'];
  // a bad ACL stops the server before anything starts (a registry quietly left out would be worse)
  const limits = registryLimitsFrom(parsed.values['registry-max-upload'], parsed.values['registry-upload-ttl'], '--registry-');
  const acl = aclFile === undefined || parsed.values.registry === false ? undefined : await (await import('../registry/acl-config.js')).loadAclFile(aclFile).catch((e: Error) => Promise.reject(new CliError(e.message)));
  const storeSpec = parsed.values.store ?? `sqlite:${join(dataDir, 'state.db')}`;
  const store = await openStore(storeSpec);
  const nodeName = (parsed.values['node-name'] ?? hostname()).toLowerCase();
  const runAgent = parsed.values.agent !== false;
  const node = await startAllInOne({
    store,
    dataDir,
    listen: parsed.values.listen ?? '127.0.0.1:6443',
    nodeName,
    agent: runAgent,
    podSecurity: podSecurityFrom(parsed.values),
    watch: watchSettingsFrom(parsed.values),
    ...(parsed.values['cgroup-parent'] ? { cgroupParent: parsed.values['cgroup-parent'] } : {}),
    ...(parsed.values['git-allow-file-urls'] === true ? { gitAllowFileUrls: true } : {}),
    network: networkOptionsFrom(parsed.values),
  });
  const server = node.api;
  log.info({ url: server.url }, `API listening on ${server.url}`);
  log.info({ store: storeSpec }, `store ${storeSpec}`);
  if (runAgent) log.info({ node: nodeName, runtime: join(dataDir, 'runtime'), endpoint: node.agent?.endpoint.url ?? '' }, `agent for node ${nodeName}`);
  let registry: { url: string; close(): Promise<void> } | undefined;
  if (parsed.values.registry !== false) {
    const { startRegistry } = await import('../registry/server.js');
    const listen = parsed.values['registry-listen'] ?? '127.0.0.1:5000';
    try {
      // Berth identities by default: a Berth token is the login, RBAC on registry.berth.dev/repositories decides
      const api = acl ? undefined : apiRegistryAccess(() => server.connectInProcess());
      const reg = await startRegistry({ dataDir, listen, acl, ...(api ? { api } : {}), anonymousPull: parsed.values['registry-anonymous-pull'] === true, limits });
      registry = reg;
      log.info({ url: reg.url, auth: acl ? 'users and ACL' : 'Berth identities' }, `registry listening on ${reg.url}`);
      // this node's agent pushes and pulls there as the node (system:node:NAME)
      if (api && node.distribution) {
        const login = { username: nodeUser(nodeName), password: server.issueProcessToken(nodeIdentity(nodeName)) };
        const hosts = new Set([new URL(reg.url).host, `127.0.0.1:${reg.port}`, `localhost:${reg.port}`, listen]);
        for (const h of hosts) node.distribution.useLogin(h, login);
      }
    } catch (e) {
      // The API and the node are the server's job; a taken registry port must not stop them.
      log.error({ listen, err: (e as Error).message }, 'registry not started (use --registry-listen or --no-registry)');
    }
  }
  let dockerApi: { stop(): Promise<void> } | undefined;
  const dockerSocket = parsed.values['docker-socket'];
  if (dockerSocket) {
    if (!runAgent) throw new CliError('--docker-socket needs the agent of this node (drop --no-agent, or serve it from `berth agent --docker-socket`)');
    const dockerKubeconfig = parsed.values['docker-kubeconfig'];
    dockerApi = await startDockerApi({
      // whoever may open the socket (root, or its group) acts as the admin unless --docker-kubeconfig names an identity
      client: dockerKubeconfig ? ApiClient.fromFile(dockerKubeconfig) : inProcessClient(server),
      socketPath: dockerSocket,
      nodeName,
      ...(parsed.values['docker-namespace'] ? { namespace: parsed.values['docker-namespace'] } : {}),
      ...(parsed.values['docker-socket-group'] ? { group: parsed.values['docker-socket-group'] } : {}),
    });
    log.info({ socket: dockerSocket }, `Docker API on unix://${dockerSocket} (node ${nodeName}, namespace ${parsed.values['docker-namespace'] ?? 'default'})`);
  }
  log.info(
    { kubeconfig: server.kubeconfigPath },
    `admin kubeconfig at ${server.kubeconfigPath} (kubectl --kubeconfig ${server.kubeconfigPath} get containers); narrower identities: berth token create NAME --role view|edit|admin [--namespace NS]`,
  );

  for (const path of parsed.values.apply ?? []) {
    const { applyPaths } = await import('../cli/commands/apply.js');
    await applyPaths([path], { kubeconfig: server.kubeconfigPath });
  }

  onSignals('server', async () => {
    await dockerApi?.stop();
    await Promise.all([node.close(), registry?.close()]);
  }, ' (containers keep running)');
}
