/**
 * The client's saved registry logins, in the docker CLI's config.json format ($BERTH_CONFIG/
 * config.json, else ~/.berth/config.json): `berth login` writes them, pull, push and search read
 * them and send the one for the image's registry as X-Registry-Auth, as the docker CLI does, so
 * that any node (this machine's or a remote one) pulls with the user's credentials.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseImageRef } from '../api/imageref.js';
import { encodeRegistryAuth, type RegistryLogin } from '../api/node-api.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { authsKeyFor, DOCKER_HUB, dockerConfigSchema, loginFromAuths, type DockerConfig } from '../util/docker-config.js';

export { DOCKER_HUB };
const ConfigFileSchema = dockerConfigSchema;
type ConfigFile = DockerConfig;

export class CredentialsFileError extends Error {}

/** Saved logins: $BERTH_CONFIG/config.json, else ~/.berth/config.json. */
export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.BERTH_CONFIG || join(env.HOME || homedir(), '.berth'), 'config.json');
}

/** "HOST[:PORT]" of a registry given as a login server (a URL or a host). */
export function registryHost(server: string): string {
  const host = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? DOCKER_HUB : host;
}

/** The registry an image reference names (Docker's rule: a first component with a dot or a port, or localhost). */
export function registryOf(ref: string): string {
  const r = parseImageRef(ref);
  const first = ref.split('/')[0] ?? '';
  const domain = r?.domain ?? (ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : undefined);
  return registryHost(domain ?? DOCKER_HUB);
}

export class CredentialsFile {
  constructor(readonly path: string = credentialsPath()) {}

  private async load(): Promise<ConfigFile> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new CredentialsFileError(`${this.path}: ${(e as Error).message}`);
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new CredentialsFileError(`${this.path}: not JSON`);
    }
    const r = ConfigFileSchema.safeParse(raw);
    if (!r.success) throw new CredentialsFileError(`${this.path}: not a credentials file (${r.error.issues[0]?.message ?? 'invalid'})`);
    return r.data;
  }

  async get(registry: string): Promise<RegistryLogin | undefined> {
    const auths = (await this.load()).auths ?? {};
    return loginFromAuths(auths, registry);
  }

  async set(registry: string, login: RegistryLogin): Promise<void> {
    const cfg = await this.load();
    cfg.auths = { ...(cfg.auths ?? {}), [authsKeyFor(registry)]: { auth: Buffer.from(`${login.username}:${login.password}`).toString('base64') } };
    await writeFileAtomic(this.path, `${JSON.stringify(cfg, null, 2)}\n`, 0o600);
  }

  async remove(registry: string): Promise<boolean> {
    const cfg = await this.load();
    if (!cfg.auths?.[authsKeyFor(registry)]) return false;
    delete cfg.auths[authsKeyFor(registry)];
    await writeFileAtomic(this.path, `${JSON.stringify(cfg, null, 2)}\n`, 0o600);
    return true;
  }

  /** The X-Registry-Auth header for a registry: its saved login, else none (anonymous). */
  async registryAuth(registry: string): Promise<string | undefined> {
    const login = await this.get(registry);
    return login ? encodeRegistryAuth(login, registry) : undefined;
  }
}
