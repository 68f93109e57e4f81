/**
 * A raw HTTPS connection to the API server read straight from the kubeconfig, for hot paths
 * where loading @kubernetes/client-node (about 0.4 s) would cost more than the work itself
 * (`berth build` of an unchanged context). Handles what Berth's and most kubeconfigs use — a
 * token or client certificate, a CA — and answers undefined for anything else (exec plugins,
 * auth providers), so callers fall back to client-node.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { resolveDataDir } from './data-dir.js';
import type { ConnectionFlags } from './kubeconfig.js';
import { findKubeconfig } from './kubeconfig-path.js';

export type { RawConnection as DirectConnection } from '../client/raw-request.js';
import type { RawConnection } from '../client/raw-request.js';

type Named<T> = { name: string } & T;
interface RawKubeconfig {
  'current-context'?: string;
  contexts?: Named<{ context: { cluster: string; user: string } }>[];
  clusters?: Named<{ cluster: Record<string, unknown> }>[];
  users?: Named<{ user: Record<string, unknown> }>[];
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const pemOf = (data: unknown, file: unknown): string | undefined =>
  str(data) ? Buffer.from(str(data)!, 'base64').toString('utf8') : str(file) ? readFileSync(str(file)!, 'utf8') : undefined;

export function directConnection(flags: ConnectionFlags): RawConnection | undefined {
  const source = findKubeconfig({ flag: flags.kubeconfig, dataDir: resolveDataDir(flags['data-dir']) });
  if (source.files.length !== 1 || !existsSync(source.files[0]!)) return undefined;
  let cfg: RawKubeconfig;
  try {
    cfg = parse(readFileSync(source.files[0]!, 'utf8')) as RawKubeconfig;
  } catch {
    return undefined;
  }
  const ctxName = flags.context ?? cfg['current-context'];
  const ctx = cfg.contexts?.find((c) => c.name === ctxName)?.context;
  const cluster = cfg.clusters?.find((c) => c.name === ctx?.cluster)?.cluster;
  const user = cfg.users?.find((u) => u.name === ctx?.user)?.user ?? {};
  const server = str(cluster?.server);
  if (!ctx || !cluster || !server) return undefined;
  if (user.exec || user['auth-provider'] || user.username) return undefined;
  const token = str(user.token) ?? (str(user.tokenFile) ? readFileSync(str(user.tokenFile)!, 'utf8').trim() : undefined);
  const ca = pemOf(cluster['certificate-authority-data'], cluster['certificate-authority']);
  const cert = pemOf(user['client-certificate-data'], user['client-certificate']);
  const key = pemOf(user['client-key-data'], user['client-key']);
  return {
    server,
    options: {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      ...(ca ? { ca } : {}),
      ...(cert && key ? { cert, key } : {}),
      ...(cluster['insecure-skip-tls-verify'] === true ? { rejectUnauthorized: false } : {}),
    },
  };
}
