/** `berth apiserver`: the API alone, on a store (kube-apiserver); controllers and agents connect to it. */
import { join } from 'node:path';
import { parseCommand, type CommandSpec, type FlagSpecs } from '../cli/args.js';
import { resolveDataDir } from '../cli/data-dir.js';
import { openStore } from '../store/index.js';
import { startApi } from './api-role.js';
import { onSignals } from './signals.js';
import { applyLogFlags, logFlags } from './logging.js';
import { podSecurityFrom, securityFlags, watchSettingsFrom } from './security-flags.js';
import { logger } from '../util/log.js';
import { CONTROLLER_USER } from '../apiserver/auth/bootstrap.js';
import { writeRoleKubeconfig } from './role-identity.js';

const flags = {
  'data-dir': { type: 'string', valueName: 'DIR', description: 'state directory; the admin kubeconfig is written to DIR/kubeconfig (default: /var/lib/berth as root, else $XDG_DATA_HOME/berth)' },
  listen: { type: 'string', valueName: 'HOST:PORT', default: '127.0.0.1:6443', description: 'address the API listens on (port 0 picks a free one)' },
  store: { type: 'string', valueName: 'SPEC', description: 'store to use: sqlite:PATH or memory: (default: sqlite:DIR/state.db)' },
  ...securityFlags,
  ...logFlags,
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const satisfies FlagSpecs;

const spec: CommandSpec<typeof flags> = {
  name: 'apiserver',
  usage: 'berth apiserver [--data-dir DIR] [--listen HOST:PORT] [--store SPEC]',
  summary: 'Run the Kubernetes-style API server alone (no controllers, no agent): run `berth controller` and `berth agent` against its kubeconfig.',
  flags,
  positionals: { min: 0, max: 0 },
  examples: ['berth apiserver --data-dir /srv/berth --listen 0.0.0.0:6443', 'berth controller --kubeconfig /srv/berth/controller.kubeconfig'],
};

export async function apiserverCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  applyLogFlags(parsed.values);
  const log = logger('apiserver');
  const dataDir = resolveDataDir(parsed.values['data-dir']);
  const storeSpec = parsed.values.store ?? `sqlite:${join(dataDir, 'state.db')}`;
  const api = await startApi({ store: await openStore(storeSpec), dataDir, listen: parsed.values.listen ?? '127.0.0.1:6443', podSecurity: podSecurityFrom(parsed.values), watch: watchSettingsFrom(parsed.values) });
  log.info({ url: api.url }, `API listening on ${api.url}`);
  log.info({ store: storeSpec }, `store ${storeSpec}`);
  log.info({ kubeconfig: api.kubeconfigPath }, `admin kubeconfig at ${api.kubeconfigPath}`);
  // `berth controller` runs as system:berth-controller, not as the admin
  const controllerKubeconfig = await writeRoleKubeconfig(api, dataDir, 'controller', CONTROLLER_USER, []);
  log.info({ kubeconfig: controllerKubeconfig }, `controller kubeconfig (user ${CONTROLLER_USER}) at ${controllerKubeconfig}`);
  onSignals('apiserver', () => api.close());
}
