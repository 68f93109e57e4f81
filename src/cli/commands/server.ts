/** `berth server`: the all-in-one node — API server (with its controllers) on the embedded SQLite store. */
import { join } from 'node:path';
import { kinds } from '../../api/registry.js';
import { openapiV3GroupVersion, openapiV3Index } from '../../api/openapi.js';
import { startApiServer } from '../../apiserver/server.js';
import { openStore } from '../../store/index.js';
import { parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { resolveDataDir } from '../data-dir.js';

const flags = {
  'data-dir': { type: 'string', valueName: 'DIR', description: 'state directory; the admin kubeconfig is written to DIR/kubeconfig (default: /var/lib/berth as root, else $XDG_DATA_HOME/berth)' },
  listen: { type: 'string', valueName: 'HOST:PORT', default: '127.0.0.1:6443', description: 'address the API listens on (port 0 picks a free one)' },
  store: { type: 'string', valueName: 'SPEC', description: 'store to use: sqlite:PATH or memory: (default: sqlite:DIR/state.db)' },
  apply: { type: 'string', multiple: true, valueName: 'PATH', description: 'once ready, apply these manifests (file or directory), as `berth apply -f` does' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const satisfies FlagSpecs;

const spec: CommandSpec<typeof flags> = {
  name: 'server',
  usage: 'berth server [--data-dir DIR] [--listen HOST:PORT] [--store SPEC] [--apply PATH]...',
  summary: 'Run the all-in-one Berth server: the Kubernetes-style API on the embedded SQLite store, with its controllers.',
  flags,
  positionals: { min: 0, max: 0 },
  examples: ['berth server', 'berth server --data-dir /tmp/berth --listen 127.0.0.1:0 --apply manifests/examples'],
};

export async function serverCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const dataDir = resolveDataDir(parsed.values['data-dir']);
  const storeSpec = parsed.values.store ?? `sqlite:${join(dataDir, 'state.db')}`;
  const store = await openStore(storeSpec);
  const server = await startApiServer({
    store,
    kinds,
    openapi: { index: openapiV3Index, groupVersion: openapiV3GroupVersion },
    dataDir,
    listen: parsed.values.listen ?? '127.0.0.1:6443',
  });
  console.log(`berth server: API listening on ${server.url}`);
  console.log(`berth server: store ${storeSpec}`);
  console.log(`berth server: admin kubeconfig at ${server.kubeconfigPath} (kubectl --kubeconfig ${server.kubeconfigPath} get containers)`);

  for (const path of parsed.values.apply ?? []) {
    const { applyPaths } = await import('./apply.js');
    await applyPaths([path], { kubeconfig: server.kubeconfigPath });
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`berth server: ${signal}, shutting down`);
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
