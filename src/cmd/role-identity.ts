/**
 * Identities of roles that run as processes of their own (`berth controller` next to `berth
 * apiserver`): a token kept in <data-dir>/auth/NAME.token (mode 0600), whose SHA-256 the API server
 * keeps as a token Secret (src/api/token.ts) for the user, and a kubeconfig for it beside the
 * admin's. The token survives restarts; the Secret is written again at each start.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { secretKind } from '../api/secret.js';
import { newToken, tokenId, tokenSecret, TOKEN_NAMESPACE } from '../api/token.js';
import type { ApiServer } from '../apiserver/server.js';
import { ApiError } from '../apiserver/status.js';
import { writeFileAtomic } from '../util/atomic-write.js';

/** Writes <data-dir>/NAME.kubeconfig authenticating as `user` in `groups`; returns its path. */
export async function writeRoleKubeconfig(api: ApiServer, dataDir: string, name: string, user: string, groups: string[]): Promise<string> {
  const tokenFile = join(dataDir, 'auth', `${name}.token`);
  let token = (await readFile(tokenFile, 'utf8').catch(() => '')).trim();
  if (!tokenId(token)) {
    token = newToken().token;
    await writeFileAtomic(tokenFile, `${token}\n`, 0o600);
  }
  const secret = tokenSecret({ id: tokenId(token)!, token }, { user, groups });
  const opts = { fieldManager: 'berth-apiserver', dryRun: false, fieldValidation: 'Strict' as const };
  const secretName = (secret.metadata as { name: string }).name;
  try {
    const have = await api.resources.get(secretKind, TOKEN_NAMESPACE, secretName);
    await api.resources.replace(secretKind, TOKEN_NAMESPACE, secretName, { ...secret, metadata: { ...(secret.metadata as object), resourceVersion: have.metadata.resourceVersion } }, opts, undefined);
  } catch (err) {
    if (!(err instanceof ApiError && err.code === 404)) throw err;
    await api.resources.create(secretKind, TOKEN_NAMESPACE, secret, opts);
  }
  const file = join(dataDir, `${name}.kubeconfig`);
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'berth', cluster: { server: api.url, 'certificate-authority-data': Buffer.from(api.caPem).toString('base64') } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: 'berth', context: { cluster: 'berth', user } }],
    'current-context': 'berth',
  };
  await writeFileAtomic(file, stringify(doc), 0o600);
  return file;
}
