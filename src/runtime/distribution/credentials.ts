import { z } from 'zod';
import { atomicWriteFile, readJsonIfExists } from '../util/fs.js';
import { invalid } from '../util/errors.js';
import { DOCKER_HUB } from './reference.js';

const ConfigFileSchema = z.looseObject({
  auths: z.record(z.string(), z.looseObject({ auth: z.string().optional(), username: z.string().optional(), password: z.string().optional(), identitytoken: z.string().optional() })).optional(),
});

export interface Credentials {
  username: string;
  password: string;
}

/** Docker Hub's key in config.json is the v1 index URL, as Docker writes it. */
const HUB_KEY = 'https://index.docker.io/v1/';
const keyFor = (registry: string): string => (registry === DOCKER_HUB ? HUB_KEY : registry);

/** The login for `registry` in a Docker config.json (a file, or a Secret's .dockerconfigjson). */
export function credentialsFromDockerConfig(config: unknown, registry: string): Credentials | undefined {
  const r = ConfigFileSchema.safeParse(config);
  if (!r.success) throw invalid(`not a Docker config.json (${r.error.issues[0]?.message ?? 'invalid'})`);
  const auths = r.data.auths ?? {};
  const e = auths[keyFor(registry)] ?? auths[registry] ?? auths[`https://${registry}`] ?? auths[`http://${registry}`];
  if (!e) return undefined;
  if (e.auth) {
    const raw = Buffer.from(e.auth, 'base64').toString('utf8');
    const i = raw.indexOf(':');
    if (i > 0) return { username: raw.slice(0, i), password: raw.slice(i + 1) };
  }
  if (e.username && e.password) return { username: e.username, password: e.password };
  return undefined;
}

/** Saved logins in the ~/.docker/config.json format (`auths` with base64 user:password). */
export class CredentialStore {
  constructor(readonly path: string) {}

  private async load(): Promise<z.infer<typeof ConfigFileSchema>> {
    const raw = await readJsonIfExists(this.path);
    if (raw === undefined) return {};
    const r = ConfigFileSchema.safeParse(raw);
    if (!r.success) throw invalid(`${this.path}: not a credentials file (${r.error.issues[0]?.message ?? 'invalid'})`);
    return r.data;
  }

  async get(registry: string): Promise<Credentials | undefined> {
    return credentialsFromDockerConfig(await this.load(), registry);
  }

  async set(registry: string, c: Credentials): Promise<void> {
    const cfg = await this.load();
    cfg.auths = { ...(cfg.auths ?? {}), [keyFor(registry)]: { auth: Buffer.from(`${c.username}:${c.password}`).toString('base64') } };
    await atomicWriteFile(this.path, JSON.stringify(cfg, null, 2) + '\n', 0o600);
  }

  async remove(registry: string): Promise<boolean> {
    const cfg = await this.load();
    if (!cfg.auths?.[keyFor(registry)]) return false;
    delete cfg.auths[keyFor(registry)];
    await atomicWriteFile(this.path, JSON.stringify(cfg, null, 2) + '\n', 0o600);
    return true;
  }
}
