/**
 * `berth controller`: the cluster's controllers (garbage collector, namespace, scheduler, node
 * lifecycle, gitsync) as their own process, an API client of any Berth API server (kube-controller-manager).
 * One instance per cluster for now: leader election comes with the distributed store.
 */
import { ApiClient } from '../client/api-client.js';
import { parseCommand, type CommandSpec, type FlagSpecs } from '../cli/args.js';
import { CliError } from '../cli/errors.js';
import { startControllers } from './compose.js';
import { onSignals } from './signals.js';
import { applyLogFlags, logFlags } from './logging.js';
import { logger } from '../util/log.js';

const NAMES = ['garbage_collector', 'namespace', 'scheduler', 'node_lifecycle', 'gitsync'];

const flags = {
  kubeconfig: { type: 'string', valueName: 'FILE', description: 'kubeconfig of the API server (required)' },
  controllers: { type: 'string', valueName: 'LIST', description: `comma-separated controllers to run (default all: ${NAMES.join(',')})` },
  'cache-dir': { type: 'string', valueName: 'DIR', description: 'where the GitSync controller keeps its git clones (default: /var/cache/berth/gitsync as root, else ~/.cache/berth/gitsync)' },
  'node-grace-period': { type: 'string', valueName: 'SECONDS', default: '40', description: 'silence after which a node is Ready=Unknown and its containers Unknown' },
  ...logFlags,
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const satisfies FlagSpecs;

const spec: CommandSpec<typeof flags> = {
  name: 'controller',
  usage: 'berth controller --kubeconfig FILE [--controllers LIST] [--cache-dir DIR] [--node-grace-period SECONDS]',
  summary: 'Run the controllers (garbage collector, namespace, scheduler, node lifecycle, gitsync) against an API server.',
  flags,
  positionals: { min: 0, max: 0 },
  examples: ['berth controller --kubeconfig /srv/berth/kubeconfig'],
};

export async function controllerCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  applyLogFlags(parsed.values);
  const kubeconfig = parsed.values.kubeconfig;
  if (!kubeconfig) throw new CliError("--kubeconfig is required: the controllers talk to the API server it names. See 'berth controller --help'.");
  const only = parsed.values.controllers?.split(',').map((s) => s.trim()).filter(Boolean);
  for (const name of only ?? []) if (!NAMES.includes(name)) throw new CliError(`--controllers: unknown controller "${name}" (known: ${NAMES.join(', ')})`);
  const grace = Number(parsed.values['node-grace-period'] ?? '40');
  if (!Number.isFinite(grace) || grace <= 0) throw new CliError(`--node-grace-period: "${parsed.values['node-grace-period']}" is not a positive number of seconds`);
  const client = ApiClient.fromFile(kubeconfig);
  const cacheDir = parsed.values['cache-dir'];
  const set = await startControllers(client, { nodeGraceMs: grace * 1000, ...(only ? { only } : {}), ...(cacheDir ? { gitsyncCacheDir: cacheDir } : {}) });
  logger('controller').info({ controllers: set.controllers.map((c) => c.name) }, `running ${set.controllers.map((c) => c.name).join(', ')}`);
  onSignals('controller', async () => {
    await set.stop();
    client.close();
  });
}
