import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
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

