import { existsSync } from 'node:fs';
import { delimiter } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { resolveDataDir } from './data-dir.js';
import { CliError } from './errors.js';

export { findKubeconfig, type KubeconfigSource } from './kubeconfig-path.js';
import { findKubeconfig } from './kubeconfig-path.js';

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
