/** `berth agent`: the node agent on its own, talking to an API server through a kubeconfig. */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { Agent } from '../../agent/agent.js';
import { parseListen } from '../../apiserver/server.js';
import { KubeClient } from '../../client/kube.js';
import { nodeDistribution } from '../../runtime/distribution/node.js';
import { Runtime } from '../../runtime/index.js';
import { writeFileAtomic } from '../../util/atomic-write.js';
import { parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { resolveDataDir } from '../data-dir.js';
import { CliError } from '../errors.js';

const flags = {
  kubeconfig: { type: 'string', valueName: 'FILE', description: 'kubeconfig of the API server to register with (required)' },
  'node-name': { type: 'string', valueName: 'NAME', description: "this node's name (default: the hostname)" },
  'data-dir': { type: 'string', valueName: 'DIR', description: 'state directory; the runtime lives in DIR/runtime (default: /var/lib/berth as root, else $XDG_DATA_HOME/berth)' },
  'endpoint-listen': { type: 'string', valueName: 'HOST:PORT', default: '127.0.0.1:0', description: 'address of the endpoint the API server proxies logs and exec to' },
  'endpoint-token-file': { type: 'string', valueName: 'FILE', description: 'bearer token the endpoint requires, shared with the API server (default: DIR/agent-token, created when missing)' },
  'cgroup-parent': { type: 'string', valueName: 'NAME', description: 'parent cgroup of the containers (default "berth")' },
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

async function loadOrCreateToken(path: string): Promise<string> {
  try {
    const t = (await readFile(path, 'utf8')).trim();
    if (t) return t;
  } catch {
    // created below
  }
  const token = randomBytes(32).toString('hex');
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, `${token}\n`, 0o600);
  return token;
}

export async function agentCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const kubeconfig = parsed.values.kubeconfig;
  if (!kubeconfig) throw new CliError("--kubeconfig is required: the agent talks to the API server it names. See 'berth agent --help'.");
  const dataDir = resolveDataDir(parsed.values['data-dir']);
  const nodeName = (parsed.values['node-name'] ?? hostname()).toLowerCase();
  const { host, port } = parseListen(parsed.values['endpoint-listen'] ?? '127.0.0.1:0');
  const token = await loadOrCreateToken(parsed.values['endpoint-token-file'] ?? join(dataDir, 'agent-token'));
  const runtime = new Runtime({ root: join(dataDir, 'runtime'), ...(parsed.values['cgroup-parent'] ? { cgroupParent: parsed.values['cgroup-parent'] } : {}) });
  const distribution = await nodeDistribution(runtime.images, runtime.root, dataDir);
  const agent = new Agent({ client: KubeClient.fromFile(kubeconfig), runtime, distribution, nodeName, endpointToken: token, endpointHost: host, endpointPort: port });
  await agent.start();
  console.log(`berth agent: node ${nodeName} registered; endpoint ${agent.endpoint.url}; runtime ${join(dataDir, 'runtime')}`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`berth agent: ${signal}, shutting down (containers keep running)`);
    void agent.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
