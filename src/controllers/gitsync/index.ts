/** The GitSync controller (GitOps): what the process composition needs of it. */
import { homedir } from 'node:os';
import { join } from 'node:path';

export { GitSyncController, type GitSyncControllerOptions } from './controller.js';

/** The clone cache of `berth controller` without --cache-dir: /var/cache/berth/gitsync as root, else under XDG_CACHE_HOME. */
export function defaultGitSyncCacheDir(): string {
  if (process.getuid?.() === 0) return '/var/cache/berth/gitsync';
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'berth', 'gitsync');
}
