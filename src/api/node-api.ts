/**
 * The node image API: the paths an agent serves for images (shaped after Docker Engine API's
 * image endpoints), which the API server proxies as nodes/NAME/proxy/PATH, and the
 * X-Registry-Auth header the clients send registry credentials in. Pure: shared by the agent,
 * the API server's proxy and the clients, so all three agree on what exists.
 */
import { z } from 'zod';

export type NodeApiRouteName =
  | 'images/list'
  | 'images/search'
  | 'images/save'
  | 'images/create'
  | 'images/load'
  | 'images/inspect'
  | 'images/history'
  | 'images/tag'
  | 'images/push'
  | 'images/remove'
  | 'commit'
  | 'system/df'
  | 'auth'
  | 'build';

export interface NodeApiRoute {
  method: 'GET' | 'POST' | 'DELETE';
  /** Matched against the path as sent (percent-encoding kept); image names may hold slashes. */
  pattern: RegExp;
  /** What the route does. */
  name: NodeApiRouteName;
}

/** Every path of the node API, in the order they are tried (fixed paths before {name} paths). */
export const NODE_API_ROUTES: readonly NodeApiRoute[] = [
  { method: 'GET', pattern: /^\/images\/json$/, name: 'images/list' },
  { method: 'GET', pattern: /^\/images\/search$/, name: 'images/search' },
  { method: 'GET', pattern: /^\/images\/get$/, name: 'images/save' },
  { method: 'POST', pattern: /^\/images\/create$/, name: 'images/create' },
  { method: 'POST', pattern: /^\/images\/load$/, name: 'images/load' },
  { method: 'GET', pattern: /^\/images\/(.+)\/json$/, name: 'images/inspect' },
  { method: 'GET', pattern: /^\/images\/(.+)\/history$/, name: 'images/history' },
  { method: 'POST', pattern: /^\/images\/(.+)\/tag$/, name: 'images/tag' },
  { method: 'POST', pattern: /^\/images\/(.+)\/push$/, name: 'images/push' },
  { method: 'DELETE', pattern: /^\/images\/(.+)$/, name: 'images/remove' },
  { method: 'POST', pattern: /^\/commit$/, name: 'commit' },
  { method: 'GET', pattern: /^\/system\/df$/, name: 'system/df' },
  { method: 'POST', pattern: /^\/auth$/, name: 'auth' },
  { method: 'POST', pattern: /^\/build$/, name: 'build' },
];

export interface NodeApiMatch {
  route: NodeApiRoute;
  /** The {name} of an image path, percent-decoded. */
  name?: string;
}

/**
 * The route a request names, or undefined (a path the node API does not have, or a method the
 * path does not take: `methodAllowed` tells the two apart).
 */
export function matchNodeApiRoute(method: string, path: string): NodeApiMatch | undefined {
  for (const route of NODE_API_ROUTES) {
    if (route.method !== method) continue;
    const m = route.pattern.exec(path);
    if (!m) continue;
    if (m[1] === undefined) return { route };
    let name: string;
    try {
      name = decodeURIComponent(m[1]);
    } catch {
      return undefined;
    }
    return { route, name };
  }
  return undefined;
}

/** Does the path exist with some other method (405 rather than 404)? */
export function nodeApiPathExists(path: string): boolean {
  return NODE_API_ROUTES.some((r) => r.pattern.test(path));
}

/** The API server path that reaches `path` of a node's API (Kubernetes' nodes/NAME/proxy/PATH). */
export function nodeProxyPath(node: string, path: string): string {
  return `/apis/berth.dev/v1alpha1/nodes/${encodeURIComponent(node)}/proxy${path}`;
}

/** A node API path for an image: the name is one path segment, slashes and all encoded. */
export function imagePath(name: string, action?: 'json' | 'history' | 'tag' | 'push'): string {
  return `/images/${encodeURIComponent(name)}${action ? `/${action}` : ''}`;
}

// ---------- X-Registry-Auth ----------

export const REGISTRY_AUTH_HEADER = 'x-registry-auth';

/** Docker's AuthConfig, as the docker CLI sends it (base64url JSON) in X-Registry-Auth and to POST /auth. */
export const AuthConfigSchema = z.looseObject({
  username: z.string().max(1024).optional(),
  password: z.string().max(8192).optional(),
  /** base64 of "username:password", an alternative to the two fields. */
  auth: z.string().max(12288).optional(),
  serveraddress: z.string().max(1024).optional(),
  email: z.string().max(1024).optional(),
  identitytoken: z.string().max(8192).optional(),
  registrytoken: z.string().max(8192).optional(),
});
export type AuthConfig = z.infer<typeof AuthConfigSchema>;

export interface RegistryLogin {
  username: string;
  password: string;
}

/** Encodes a login as the docker CLI does (URL-safe base64 of the JSON AuthConfig). */
export function encodeRegistryAuth(login: RegistryLogin, serveraddress?: string): string {
  return Buffer.from(JSON.stringify({ username: login.username, password: login.password, ...(serveraddress ? { serveraddress } : {}) })).toString('base64url');
}

export class RegistryAuthError extends Error {}

/**
 * The login an AuthConfig carries; undefined for an anonymous one ({} or empty fields). Throws a
 * RegistryAuthError naming `field` on anything malformed; never echoes a secret.
 */
export function loginOf(config: unknown, field: string): RegistryLogin | undefined {
  const r = AuthConfigSchema.safeParse(config);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new RegistryAuthError(`${field}: ${issue?.path.length ? `${issue.path.join('.')}: ` : ''}${issue?.message ?? 'not an AuthConfig object'}`);
  }
  const c = r.data;
  if (c.identitytoken || c.registrytoken) throw new RegistryAuthError(`${field}: identitytoken and registrytoken are not supported; send username and password`);
  let username = c.username ?? '';
  let password = c.password ?? '';
  if (!username && !password && c.auth) {
    const raw = Buffer.from(c.auth, 'base64').toString('utf8');
    const i = raw.indexOf(':');
    if (i <= 0) throw new RegistryAuthError(`${field}: auth is not base64 of "username:password"`);
    username = raw.slice(0, i);
    password = raw.slice(i + 1);
  }
  if (!username && !password) return undefined;
  if (!username || !password) throw new RegistryAuthError(`${field}: needs both username and password`);
  return { username, password };
}

/** Decodes an X-Registry-Auth header (base64url or base64 JSON, as Docker accepts); undefined when absent or anonymous. */
export function decodeRegistryAuth(header: string | undefined): RegistryLogin | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const field = 'X-Registry-Auth';
  if (header.length > 32768) throw new RegistryAuthError(`${field}: longer than 32768 characters`);
  if (!/^[A-Za-z0-9+/_-]+=*$/.test(header.trim())) throw new RegistryAuthError(`${field}: not base64`);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(header.trim().replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8'));
  } catch {
    throw new RegistryAuthError(`${field}: not base64 of a JSON object`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new RegistryAuthError(`${field}: not base64 of a JSON object`);
  return loginOf(json, field);
}

// ---------- progress stream ----------

/** One line of a Docker JSON progress stream (pull, push, import, load, build). */
export const JsonMessageSchema = z.looseObject({
  status: z.string().optional(),
  id: z.string().optional(),
  progress: z.string().optional(),
  progressDetail: z.looseObject({ current: z.number().optional(), total: z.number().optional() }).optional(),
  stream: z.string().optional(),
  error: z.string().optional(),
  errorDetail: z.looseObject({ message: z.string().optional() }).optional(),
  aux: z.record(z.string(), z.unknown()).optional(),
});
export type JsonMessage = z.infer<typeof JsonMessageSchema>;
