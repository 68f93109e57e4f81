/** The registry client as a node sets it up: <state-dir>/daemon.json, <state-dir>/certs.d, saved logins. */
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ImageStore } from '../images/store.js';
import { loadDaemonConfig } from './config.js';
import { Distribution } from './index.js';

/** Saved logins: $BERTH_CONFIG/config.json, else ~/.berth/config.json (Docker's config.json format). */
export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.BERTH_CONFIG || join(env.HOME || homedir(), '.berth'), 'config.json');
}

export async function nodeDistribution(images: ImageStore, runtimeRoot: string, stateDir: string): Promise<Distribution> {
  const config = { ...(await loadDaemonConfig(join(stateDir, 'daemon.json'))), certsDir: join(stateDir, 'certs.d') };
  return new Distribution({ images, root: runtimeRoot, config, credentialsPath: credentialsPath() });
}
