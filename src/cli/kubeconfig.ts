import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { resolveDataDir } from './data-dir.js';
import { CliError } from './errors.js';

export interface KubeconfigSource {
  /** Files to load; several only for a $KUBECONFIG list (merged, first wins). */
  files: string[];
  from: 'flag' | 'env' | 'data-dir' | 'home';
}

/** --kubeconfig, then $KUBECONFIG, then <data-dir>/kubeconfig if it exists, then ~/.kube/config. */
export function findKubeconfig(opts: {
  flag?: string;
  dataDir: string;
  env?: NodeJS.ProcessEnv;
  exists?: (path: string) => boolean;
}): KubeconfigSource {
  const env = opts.env ?? process.env;
  const exists = opts.exists ?? existsSync;
  if (opts.flag) return { files: [opts.flag], from: 'flag' };
  const fromEnv = (env.KUBECONFIG ?? '').split(delimiter).filter((f) => f.length > 0);
  if (fromEnv.length > 0) return { files: fromEnv, from: 'env' };
  const inDataDir = join(opts.dataDir, 'kubeconfig');
  if (exists(inDataDir)) return { files: [inDataDir], from: 'data-dir' };
  const home = join(env.HOME || homedir(), '.kube', 'config');
  if (exists(home)) return { files: [home], from: 'home' };
  throw new CliError(
    `no kubeconfig found: pass --kubeconfig FILE, set $KUBECONFIG, or start \`berth server --data-dir ${opts.dataDir}\` (looked for ${inDataDir} and ${home})`,
  );
}

export interface ConnectionFlags {
  kubeconfig?: string;
  'data-dir'?: string;
  context?: string;
}

export function loadKubeConfig(flags: ConnectionFlags): KubeConfig {
  const source = findKubeconfig({ flag: flags.kubeconfig, dataDir: resolveDataDir(flags['data-dir']) });
  const kc = new KubeConfig();
  const existing = source.files.filter((f) => existsSync(f));
  if (existing.length === 0) throw new CliError(`kubeconfig ${source.files.join(delimiter)} does not exist`);
  try {
    kc.loadFromFile(existing[0] as string);
    // As kubectl merges a $KUBECONFIG list: the first file to define a name wins.
    for (const file of existing.slice(1)) {
      const more = new KubeConfig();
      more.loadFromFile(file);
      for (const c of more.clusters) if (!kc.getCluster(c.name)) kc.addCluster(c);
      for (const u of more.users) if (!kc.getUser(u.name)) kc.addUser(u);
      for (const c of more.contexts) if (!kc.getContextObject(c.name)) kc.addContext(c);
      if (!kc.currentContext) kc.setCurrentContext(more.currentContext);
    }
  } catch (err) {
    throw new CliError(`cannot load kubeconfig ${existing.join(delimiter)}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (flags.context) {
    if (!kc.getContextObject(flags.context)) throw new CliError(`context "${flags.context}" does not exist in the kubeconfig`);
    kc.setCurrentContext(flags.context);
  }
  if (!kc.getCurrentCluster()) throw new CliError(`the kubeconfig ${existing.join(delimiter)} has no current context with a cluster`);
  return kc;
}

/** The namespace a command works in: -n, else the context's namespace, else "default". */
export function namespaceFor(kc: KubeConfig, flag: string | undefined): string {
  if (flag) return flag;
  const ctx = kc.getContextObject(kc.getCurrentContext());
  return ctx?.namespace || 'default';
}
