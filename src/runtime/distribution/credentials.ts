import { z } from 'zod';
import { atomicWriteFile, readJsonIfExists } from '../util/fs.js';
import { invalid } from '../util/errors.js';
import { authsKeyFor, dockerConfigSchema, loginFromAuths } from '../../util/docker-config.js';

export interface Credentials {
  username: string;
  password: string;
}

/** The login for `registry` in a Docker config.json (a file, or a Secret's .dockerconfigjson). */
export function credentialsFromDockerConfig(config: unknown, registry: string): Credentials | undefined {
  const r = dockerConfigSchema.safeParse(config);
  if (!r.success) throw invalid(`not a Docker config.json (${r.error.issues[0]?.message ?? 'invalid'})`);
  return loginFromAuths(r.data.auths, registry);
}

/** Saved logins in the ~/.docker/config.json format (`auths` with base64 user:password). */
export class CredentialStore {
  /** Logins this process was given (never written to the file); a saved login wins. */
  private readonly given = new Map<string, Credentials>();

  constructor(readonly path: string) {}

  useLogin(registry: string, c: Credentials): void {
    this.given.set(registry, c);
  }

  private async load(): Promise<z.infer<typeof dockerConfigSchema>> {
    const raw = await readJsonIfExists(this.path);
    if (raw === undefined) return {};
    const r = dockerConfigSchema.safeParse(raw);
    if (!r.success) throw invalid(`${this.path}: not a credentials file (${r.error.issues[0]?.message ?? 'invalid'})`);
    return r.data;
  }

  async get(registry: string): Promise<Credentials | undefined> {
    return credentialsFromDockerConfig(await this.load(), registry) ?? this.given.get(registry);
  }

  async set(registry: string, c: Credentials): Promise<void> {
    const cfg = await this.load();
    cfg.auths = { ...(cfg.auths ?? {}), [authsKeyFor(registry)]: { auth: Buffer.from(`${c.username}:${c.password}`).toString('base64') } };
    await atomicWriteFile(this.path, JSON.stringify(cfg, null, 2) + '\n', 0o600);
  }

  async remove(registry: string): Promise<boolean> {
    const cfg = await this.load();
    if (!cfg.auths?.[authsKeyFor(registry)]) return false;
    delete cfg.auths[authsKeyFor(registry)];
    await atomicWriteFile(this.path, JSON.stringify(cfg, null, 2) + '\n', 0o600);
    return true;
  }
}
