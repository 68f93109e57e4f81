/**
 * Logins in Docker's config.json format (`auths`: base64 "user:password", or username and
 * password), shared by the node's credential store (src/runtime) and the CLI's (src/client).
 */
import { z } from 'zod';

export const DOCKER_HUB = 'docker.io';

export const dockerConfigSchema = z.looseObject({
  auths: z
    .record(z.string(), z.looseObject({ auth: z.string().optional(), username: z.string().optional(), password: z.string().optional(), identitytoken: z.string().optional() }))
    .optional(),
});
export type DockerConfig = z.infer<typeof dockerConfigSchema>;

export interface RegistryLogin {
  username: string;
  password: string;
}

/** Docker Hub's key in config.json is the v1 index URL, as the docker CLI writes it. */
const HUB_KEY = 'https://index.docker.io/v1/';

/** The key a login for `registry` is saved under. */
export const authsKeyFor = (registry: string): string => (registry === DOCKER_HUB ? HUB_KEY : registry);

/** The login saved for `registry`, under any of the keys Docker's tools use. */
export function loginFromAuths(auths: DockerConfig['auths'], registry: string): RegistryLogin | undefined {
  const all = auths ?? {};
  const e = all[authsKeyFor(registry)] ?? all[registry] ?? all[`https://${registry}`] ?? all[`http://${registry}`];
  if (!e) return undefined;
  if (e.auth) {
    const raw = Buffer.from(e.auth, 'base64').toString('utf8');
    const i = raw.indexOf(':');
    if (i > 0) return { username: raw.slice(0, i), password: raw.slice(i + 1) };
  }
  if (e.username && e.password) return { username: e.username, password: e.password };
  return undefined;
}
