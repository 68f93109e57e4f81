/**
 * What the image verbs (pull, push, tag, images, rmi, import, commit, history, search, login,
 * build) share: the flags that find the API server and the node, the node API client they talk
 * to (the node's agent owns its runtime; the CLI never opens it), and Docker's per-layer progress.
 */
import type { RequestOptions } from 'node:https';
import type { JsonMessage } from '../../api/node-api.js';
import { NodeApiClient } from '../../client/node-api.js';
import { chooseNode } from '../../client/node-choice.js';
import type { RawConnection } from '../../client/raw-request.js';
import type { FlagSpecs } from '../args.js';
import { CliError } from '../errors.js';
import type { ConnectionFlags } from '../kubeconfig.js';

export const nodeFlags = {
  node: { type: 'string', valueName: 'NAME', description: 'node to work on (default: the only Ready node, else the node named like this host)' },
  kubeconfig: { type: 'string', valueName: 'FILE', description: 'kubeconfig to use (default: $KUBECONFIG, <data-dir>/kubeconfig, ~/.kube/config)' },
  context: { type: 'string', valueName: 'NAME', description: 'kubeconfig context to use' },
  'data-dir': { type: 'string', valueName: 'DIR', description: 'berth state directory whose kubeconfig to use (default: /var/lib/berth as root, else $XDG_DATA_HOME/berth)' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const satisfies FlagSpecs;

export function cliError(e: unknown): never {
  throw new CliError(e instanceof Error ? e.message : String(e));
}

/** Server and credentials read straight from the kubeconfig, else through client-node (exec plugins, auth providers). */
export async function apiConnection(flags: ConnectionFlags): Promise<RawConnection> {
  const { directConnection } = await import('../direct-connection.js');
  const direct = directConnection(flags);
  if (direct) return direct;
  const { loadKubeConfig } = await import('../kubeconfig.js');
  const kc = loadKubeConfig(flags);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new CliError('the kubeconfig has no current cluster');
  const options: RequestOptions = { headers: {} };
  await kc.applyToHTTPSOptions(options);
  return { server: cluster.server, options };
}

/** The image API of the chosen node (--node, else the only Ready node, else this machine's). */
export async function openNodeApi(flags: ConnectionFlags & { node?: string }, opts: { thisMachine?: boolean } = {}): Promise<NodeApiClient> {
  const conn = await apiConnection(flags);
  try {
    return new NodeApiClient(conn, await chooseNode(conn, { ...(flags.node ? { wanted: flags.node } : {}), ...(opts.thisMachine ? { thisMachine: true } : {}) }));
  } catch (e) {
    cliError(e);
  }
}

const mb = (n: number): string => (n >= 1e9 ? `${(n / 1e9).toFixed(2)}GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)}MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}kB` : `${n}B`);

function bar(current: number, total: number): string {
  const width = 40;
  const done = total > 0 ? Math.min(width, Math.floor((current / total) * width)) : 0;
  return `[${'='.repeat(Math.max(0, done - 1))}${done > 0 ? '>' : ''}${' '.repeat(width - done)}]`;
}

/** Docker-style per-layer progress from the node's progress lines: redrawn in place on a terminal, silent otherwise. */
export function layerProgress(stream: NodeJS.WriteStream = process.stderr): { onLayer(m: JsonMessage): void; done(): void } {
  if (!stream.isTTY) return { onLayer: () => undefined, done: () => undefined };
  const order: string[] = [];
  const lines = new Map<string, string>();
  let drawn = 0;
  let last = 0;
  const draw = (force: boolean): void => {
    const now = Date.now();
    if (!force && now - last < 100) return;
    last = now;
    let out = drawn > 0 ? `\x1b[${drawn}A` : '';
    for (const id of order) out += `\x1b[2K${id}: ${lines.get(id) ?? ''}\n`;
    drawn = order.length;
    stream.write(out);
  };
  return {
    onLayer: (m) => {
      if (!m.id || !m.status) return;
      if (!lines.has(m.id)) order.push(m.id);
      const busy = m.status === 'Downloading' || m.status === 'Pushing';
      const current = m.progressDetail?.current ?? 0;
      const total = m.progressDetail?.total ?? 0;
      lines.set(m.id, busy ? `${m.status.padEnd(12)} ${bar(current, total)} ${mb(current)}/${mb(total)}` : m.status);
      draw(!busy);
    },
    done: () => draw(true),
  };
}
