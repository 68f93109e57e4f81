import { homedir } from 'node:os';
import { join } from 'node:path';

/** /var/lib/berth as root, else $XDG_DATA_HOME/berth (~/.local/share/berth). */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, uid: number | undefined = process.getuid?.()): string {
  if (uid === 0) return '/var/lib/berth';
  const xdg = env.XDG_DATA_HOME;
  return join(xdg && xdg.length > 0 ? xdg : join(env.HOME || homedir(), '.local', 'share'), 'berth');
}

export function resolveDataDir(flag: string | undefined): string {
  return flag && flag.length > 0 ? flag : defaultDataDir();
}
