/** `berth agent`: the node agent on its own, talking to an API server through a kubeconfig. */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parseListen } from '../apiserver/server.js';
import { ApiClient } from '../client/api-client.js';
import { parseCommand, type CommandSpec, type FlagSpecs } from '../cli/args.js';
import { resolveDataDir } from '../cli/data-dir.js';
import { CliError } from '../cli/errors.js';
import { startAgent, startDockerApi } from './compose.js';
import { networkFlags, networkOptionsFrom } from './network-flags.js';
import { onSignals } from './signals.js';
import { applyLogFlags, logFlags } from './logging.js';
import { logger } from '../util/log.js';

const flags = {
  kubeconfig: { type: 'string', valueName: 'FILE', description: 'kubeconfig of the API server to register with (required)' },
  'node-name': { type: 'string', valueName: 'NAME', description: "this node's name (default: the hostname)" },
  'data-dir': { type: 'string', valueName: 'DIR', description: 'state directory; the runtime lives in DIR/runtime (default: /var/lib/berth as root, else $XDG_DATA_HOME/berth)' },
  'endpoint-listen': { type: 'string', valueName: 'HOST:PORT', default: '127.0.0.1:0', description: "address of the endpoint the API server proxies logs and exec to (HTTPS; its certificate from Berth's CA is kept in DIR/agent-tls)" },
  'cgroup-parent': { type: 'string', valueName: 'NAME', description: 'parent cgroup of the containers (default "berth")' },
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
  name: 'agent',
  usage: 'berth agent --kubeconfig FILE [--node-name NAME] [--data-dir DIR]',
  summary: "Run the node agent: register this node and run the Containers, Volumes and Images bound to it (Berth's kubelet).",
  flags,
  positionals: { min: 0, max: 0 },
  examples: ['berth agent --kubeconfig /var/lib/berth/kubeconfig --node-name node1'],
};

export async function agentCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  applyLogFlags(parsed.values);
  const kubeconfig = parsed.values.kubeconfig;
  if (!kubeconfig) throw new CliError("--kubeconfig is required: the agent talks to the API server it names. See 'berth agent --help'.");
  const dataDir = resolveDataDir(parsed.values['data-dir']);
  const nodeName = (parsed.values['node-name'] ?? hostname()).toLowerCase();
  const { host, port } = parseListen(parsed.values['endpoint-listen'] ?? '127.0.0.1:0');
  const client = ApiClient.fromFile(kubeconfig);
  const { agent, runtime } = await startAgent({
    client,
    dataDir,
    nodeName,
    endpointHost: host,
    endpointPort: port,
    ...(parsed.values['cgroup-parent'] ? { cgroupParent: parsed.values['cgroup-parent'] } : {}),
    ...(parsed.values['git-allow-file-urls'] === true ? { gitAllowFileUrls: true } : {}),
    network: networkOptionsFrom(parsed.values),
  });
  logger('agent').info({ node: nodeName, endpoint: agent.endpoint.url, runtime: join(dataDir, 'runtime') }, `node ${nodeName} registered; endpoint ${agent.endpoint.url}`);
  const dockerSocket = parsed.values['docker-socket'];
  const dockerApi = dockerSocket
    ? await startDockerApi({
        client: parsed.values['docker-kubeconfig'] ? ApiClient.fromFile(parsed.values['docker-kubeconfig']) : client,
        socketPath: dockerSocket,
        nodeName,
        ...(parsed.values['docker-namespace'] ? { namespace: parsed.values['docker-namespace'] } : {}),
        ...(parsed.values['docker-socket-group'] ? { group: parsed.values['docker-socket-group'] } : {}),
      })
    : undefined;
  if (dockerSocket) logger('agent').info({ socket: dockerSocket }, `Docker API on unix://${dockerSocket}`);
  onSignals('agent', async () => {
    await dockerApi?.stop();
    await agent.stop();
    await runtime.close();
    client.close();
  }, ' (containers keep running)');
}
