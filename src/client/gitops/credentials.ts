/**
 * Repository credentials from the Secret a GitSync names: `token`, or `username` and `password`
 * (also the kubernetes.io/basic-auth keys), for http(s); `identity` (or ssh-privatekey, the
 * kubernetes.io/ssh-auth key) and `known_hosts` for ssh. Values stay in memory and go to git only
 * through its environment or 0600 files (git.ts).
 */
import type { KObject } from '../api-client.js';
import type { GitCredentials } from './git.js';

const decode = (data: Record<string, unknown>, ...keys: string[]): string | undefined => {
  for (const k of keys) {
    const v = data[k];
    if (typeof v === 'string') return Buffer.from(v, 'base64').toString('utf8');
  }
  return undefined;
};

/** The credentials in `secret`, or why they are unusable for `url`. */
export function credentialsFrom(secret: KObject, url: string): GitCredentials | { error: string } {
  const data = (secret.data ?? {}) as Record<string, unknown>;
  const name = secret.metadata.name;
  const ssh = /^ssh:\/\//.test(url) || (/^[^/:]+@[^/:]+:/.test(url) && !url.includes('://'));
  if (ssh) {
    const identity = decode(data, 'identity', 'ssh-privatekey');
    const knownHosts = decode(data, 'known_hosts', 'knownHosts');
    if (!identity) return { error: `Secret ${name} has no identity (an SSH private key) for ${url}` };
    if (!knownHosts) return { error: `Secret ${name} has no known_hosts: the host key of an ssh repository must be pinned` };
    return { identity, knownHosts };
  }
  const token = decode(data, 'token', 'bearerToken');
  const username = decode(data, 'username');
  const password = decode(data, 'password');
  if (password !== undefined) return { ...(username !== undefined ? { username } : {}), password };
  if (token !== undefined) return { ...(username !== undefined ? { username } : {}), token };
  return { error: `Secret ${name} has neither token nor username/password` };
}
