/** Bearer-token authentication and the admin kubeconfig written on first start. */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { writeFileAtomic } from '../util/atomic-write.js';

export interface Credentials {
  adminToken: string;
}

/** Load the admin token from <dataDir>/auth/admin.token, creating it on first start. */
export async function loadOrCreateCredentials(dataDir: string): Promise<Credentials> {
  const dir = join(dataDir, 'auth');
  const file = join(dir, 'admin.token');
  if (existsSync(file)) {
    const token = (await readFile(file, 'utf8')).trim();
    if (token.length >= 32) return { adminToken: token };
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString('hex');
  await writeFileAtomic(file, `${token}\n`, 0o600);
  return { adminToken: token };
}

export function tokenMatches(header: string | undefined, creds: Credentials): boolean {
  if (!header?.startsWith('Bearer ')) return false;
  const given = Buffer.from(header.slice('Bearer '.length).trim());
  const want = Buffer.from(creds.adminToken);
  return given.length === want.length && timingSafeEqual(given, want);
}

export function kubeconfigYaml(serverUrl: string, token: string, caPem: string, name = 'berth'): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server: serverUrl, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
    users: [{ name: `${name}-admin`, user: { token } }],
    contexts: [{ name, context: { cluster: name, user: `${name}-admin`, namespace: 'default' } }],
    'current-context': name,
    preferences: {},
  });
}

export async function writeKubeconfig(dataDir: string, serverUrl: string, creds: Credentials, caPem: string): Promise<string> {
  const file = join(dataDir, 'kubeconfig');
  await writeFileAtomic(file, kubeconfigYaml(serverUrl, creds.adminToken, caPem), 0o600);
  return file;
}
