import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { metricsRegistry } from '../metrics/registry.js';
import { ANONYMOUS, REPO_ACTIONS, type Acl, type RepoAction } from './acl.js';
import { allows, parseScopes, scopeString, type Access, type TokenClaims, type TokenSigner, type UserDb } from './auth.js';
import { deleteBlob, deleteUpload, getBlob, getUpload, patchUpload, putUpload, startUpload } from './blobs.js';
import { RegistryError, regError } from './errors.js';
import { DEFAULT_MAX_MANIFEST_BYTES, deleteManifest, getManifest, putManifest } from './manifests.js';
import { registryRequests } from './metrics.js';
import { validateName } from './names.js';
import type { RegistryStorage } from './storage.js';

export interface RegistryAuth {
  users: UserDb;
  signer: TokenSigner;
  /** `service` in challenges and the token audience. */
  service: string;
  /** Who may pull, push and delete where (anonymous requests are account ANONYMOUS). */
  acl: Acl;
  tokenTtlSeconds?: number;
}

export interface RegistryAppOptions {
  storage: RegistryStorage;
  /** Token auth; without it every request is allowed. */
  auth?: RegistryAuth;
  readOnly?: boolean;
  maxManifestBytes?: number;
}

type Route =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'tags'; name: string }
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; uuid: string };

function route(path: string): Route | undefined {
  if (path === '/v2/' || path === '/v2') return { kind: 'base' };
  if (path === '/v2/_catalog') return { kind: 'catalog' };
  let m = /^\/v2\/(.+)\/tags\/list$/.exec(path);
  if (m) return { kind: 'tags', name: m[1] as string };
  m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
  if (m) return { kind: 'manifest', name: m[1] as string, reference: m[2] as string };
  m = /^\/v2\/(.+)\/blobs\/uploads\/?$/.exec(path);
  if (m) return { kind: 'uploads', name: m[1] as string };
  m = /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/.exec(path);
  if (m) return { kind: 'upload', name: m[1] as string, uuid: m[2] as string };
  m = /^\/v2\/(.+)\/blobs\/([^/]+)$/.exec(path);
  if (m) return { kind: 'blob', name: m[1] as string, digest: m[2] as string };
  return undefined;
}

const WRITE_METHODS = new Set(['PUT', 'POST', 'PATCH', 'DELETE']);

function sendError(res: Response, err: unknown): void {
  const e = err instanceof RegistryError ? err : regError('UNSUPPORTED', `internal error: ${(err as Error)?.message ?? String(err)}`, undefined, 500);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(e.body());
  res.status(e.status);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', String(Buffer.byteLength(body)));
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/** Pagination as distribution does it: sorted entries after `last`, at most `n`, a Link header when more remain. */
function paginate(req: Request, res: Response, all: string[], base: string): string[] {
  const q = req.query as Record<string, string | undefined>;
  const last = q.last;
  let items = last ? all.filter((x) => x > last) : all;
  if (q.n !== undefined) {
    const n = Number(q.n);
    if (!Number.isInteger(n) || n < 0) throw regError('UNSUPPORTED', `n: "${q.n}" is not a non-negative integer`, undefined, 400);
    if (items.length > n) {
      items = items.slice(0, n);
      const lastItem = items[items.length - 1];
      if (lastItem !== undefined) res.setHeader('Link', `<${base}?last=${encodeURIComponent(lastItem)}&n=${n}>; rel="next"`);
    } else items = items.slice(0, n);
  }
  return items;
}

/** The access a request needs (repository pull/push, or the catalog). */
function needed(r: Route, method: string): Access[] {
  if (r.kind === 'base') return [];
  if (r.kind === 'catalog') return [{ type: 'registry', name: 'catalog', actions: ['*'] }];
  const write = WRITE_METHODS.has(method);
  const action = r.kind === 'manifest' || r.kind === 'blob' ? (method === 'DELETE' ? 'delete' : write ? 'push' : 'pull') : write || r.kind === 'upload' ? 'push' : 'pull';
  return [{ type: 'repository', name: r.name, actions: [action] }];
}

function basicCredentials(header: string | undefined): { user: string; password: string } | undefined {
  if (!header?.startsWith('Basic ')) return undefined;
  const raw = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const i = raw.indexOf(':');
  return i < 0 ? undefined : { user: raw.slice(0, i), password: raw.slice(i + 1) };
}

/** The OCI Distribution API (+ Docker token endpoint and /metrics) as an express app. */
export function createRegistryApp(opts: RegistryAppOptions): Express {
  const { storage, auth } = opts;
  const maxManifest = opts.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', 'extended');

  app.use((req, res, next) => {
    res.on('finish', () => registryRequests.inc({ method: req.method, code: String(res.statusCode) }));
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    next();
  });

  app.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', metricsRegistry.contentType);
    res.end(await metricsRegistry.metrics());
  });

  app.get('/token', async (req, res) => {
    try {
      if (!auth) throw regError('UNSUPPORTED', 'this registry does not use token authentication', undefined, 404);
      const q = req.query as Record<string, string | string[] | undefined>;
      const scopes = parseScopes(([] as string[]).concat(q.scope ?? []));
      const creds = basicCredentials(req.headers.authorization);
      let account = ANONYMOUS;
      if (creds) {
        if (!(await auth.users.verify(creds.user, creds.password))) {
          res.setHeader('WWW-Authenticate', `Basic realm="${auth.service}"`);
          throw regError('UNAUTHORIZED', 'authentication required: incorrect username or password');
        }
        account = creds.user;
      }
      // as the Docker token spec says: what was asked for and is allowed, never an error for the rest
      const granted: Access[] = scopes.map((s) => {
        if (s.type === 'repository') {
          const allowed = repoActions(account, s.name);
          const want: readonly string[] = s.actions.includes('*') ? REPO_ACTIONS : s.actions;
          return { type: s.type, name: s.name, actions: want.filter((a) => allowed.has(a as RepoAction)) };
        }
        return { type: s.type, name: s.name, actions: s.type === 'registry' && s.name === 'catalog' && auth.acl.maySeeCatalog(account) ? ['*'] : [] };
      });
      const ttl = auth.tokenTtlSeconds ?? 300;
      const { token, claims } = auth.signer.sign(account, auth.service, granted, ttl);
      res.json({ token, access_token: token, expires_in: ttl, issued_at: new Date(claims.iat * 1000).toISOString() });
    } catch (e) {
      sendError(res, e);
    }
  });

  /** What the ACL lets `account` do on a repository (only pull in read-only mode). */
  const repoActions = (account: string, name: string): ReadonlySet<RepoAction> => {
    if (!auth) return new Set(REPO_ACTIONS);
    const a = auth.acl.actions(account, name);
    return opts.readOnly ? new Set([...a].filter((x) => x === 'pull')) : a;
  };
  const permits = (account: string, a: Access, action: string): boolean =>
    a.type === 'registry' ? !!auth?.acl.maySeeCatalog(account) : repoActions(account, a.name).has(action as RepoAction);

  const challenge = (req: Request, res: Response, access: Access[], error?: string): void => {
    if (!auth) return;
    const realm = `${req.protocol}://${req.headers.host ?? 'localhost'}/token`;
    const parts = [`realm="${realm}"`, `service="${auth.service}"`];
    if (access.length) parts.push(`scope="${access.map(scopeString).join(' ')}"`);
    if (error) parts.push(`error="${error}"`);
    res.setHeader('WWW-Authenticate', `Bearer ${parts.join(',')}`);
  };

  /**
   * Checks the request against the access it needs: without a token, what anonymous users may do
   * is served and the rest challenged (401); with a token, an action the ACL refuses its account is
   * DENIED (403), and one the ACL allows but the token does not carry is challenged for that scope
   * (401 insufficient_scope, so the client fetches a token that has it).
   */
  const authorize = (req: Request, res: Response, r: Route): { account?: string; claims?: TokenClaims } => {
    if (!auth) return {};
    const need = needed(r, req.method);
    // pushes and mounts also ask for pull, as Docker clients request `pull,push`
    const challengeScope = need.map((a) => (a.type === 'repository' && a.actions[0] !== 'pull' ? { ...a, actions: ['pull', ...a.actions] } : a));
    const header = req.headers.authorization;
    if (!header?.startsWith('Bearer ')) {
      if (r.kind !== 'base' && need.every((a) => a.actions.every((x) => permits(ANONYMOUS, a, x)))) return { account: ANONYMOUS };
      challenge(req, res, challengeScope);
      throw regError('UNAUTHORIZED', 'authentication required', need.map((a) => ({ Type: a.type, Name: a.name, Action: a.actions[0] })));
    }
    const claims = auth.signer.verify(header.slice(7).trim(), auth.service);
    if (!claims) {
      challenge(req, res, challengeScope, 'invalid_token');
      throw regError('UNAUTHORIZED', 'authentication required: the token is invalid or has expired');
    }
    for (const a of need) {
      for (const action of a.actions) {
        // the ACL is checked again: a token outlives a restart with stricter rules
        const aclAllows = permits(claims.sub, a, action);
        if (aclAllows && allows(claims, a.type, a.name, action)) continue;
        if (permits(ANONYMOUS, a, action)) continue;
        if (!aclAllows) throw regError('DENIED', `requested access to the resource is denied: ${action} on ${a.type} ${a.name}`, { Type: a.type, Name: a.name, Action: action });
        challenge(req, res, challengeScope, 'insufficient_scope');
        throw regError('UNAUTHORIZED', `authentication required: the token does not grant ${action} on ${a.name}`);
      }
    }
    return { account: claims.sub, claims };
  };

  app.use(async (req: Request, res: Response, next: NextFunction) => {
    if (!req.path.startsWith('/v2')) return next();
    try {
      const r = route(req.path);
      if (!r) throw regError('UNSUPPORTED', `no such endpoint: ${req.method} ${req.path}`, undefined, 404);
      if ('name' in r) validateName(r.name);
      const { account, claims } = authorize(req, res, r);
      if (opts.readOnly && WRITE_METHODS.has(req.method)) throw regError('UNSUPPORTED', 'the registry is in read-only mode');
      const m = req.method;
      switch (r.kind) {
        case 'base':
          if (m !== 'GET' && m !== 'HEAD') break;
          res.setHeader('Content-Type', 'application/json');
          res.status(200).end(m === 'HEAD' ? undefined : '{}');
          return;
        case 'catalog': {
          if (m !== 'GET') break;
          // each account sees the repositories it may pull
          const all = await storage.repositories();
          const visible = account === undefined ? all : all.filter((n) => repoActions(account, n).has('pull'));
          const repos = paginate(req, res, visible, '/v2/_catalog');
          res.json({ repositories: repos });
          return;
        }
        case 'tags': {
          if (m !== 'GET') break;
          if (!(await storage.repositoryExists(r.name))) throw regError('NAME_UNKNOWN', `repository ${r.name} is not known to this registry`, { name: r.name });
          const tags = paginate(req, res, await storage.tags(r.name), `/v2/${r.name}/tags/list`);
          res.json({ name: r.name, tags });
          return;
        }
        case 'manifest':
          if (m === 'GET' || m === 'HEAD') return await getManifest(storage, r.name, r.reference, req, res);
          if (m === 'PUT') return await putManifest(storage, r.name, r.reference, req, res, maxManifest);
          if (m === 'DELETE') return await deleteManifest(storage, r.name, r.reference, res);
          break;
        case 'blob':
          if (m === 'GET' || m === 'HEAD') return await getBlob(storage, r.name, r.digest, req, res);
          if (m === 'DELETE') return await deleteBlob(storage, r.name, r.digest, res);
          break;
        case 'uploads':
          if (m === 'POST') {
            const canMount = (from: string): boolean => {
              try {
                validateName(from);
              } catch {
                return false;
              }
              const pull = { type: 'repository', name: from, actions: ['pull'] };
              if (account === undefined || permits(ANONYMOUS, pull, 'pull')) return true;
              return permits(account, pull, 'pull') && !!claims && allows(claims, 'repository', from, 'pull');
            };
            return await startUpload(storage, r.name, req, res, canMount);
          }
          break;
        case 'upload':
          if (m === 'GET') return await getUpload(storage, r.name, r.uuid, res);
          if (m === 'PATCH') return await patchUpload(storage, r.name, r.uuid, req, res);
          if (m === 'PUT') return await putUpload(storage, r.name, r.uuid, req, res);
          if (m === 'DELETE') return await deleteUpload(storage, r.name, r.uuid, res);
          break;
      }
      throw regError('UNSUPPORTED', `method ${m} is not allowed on ${req.path}`);
    } catch (e) {
      if (!res.headersSent && WRITE_METHODS.has(req.method) && !req.readableEnded) res.setHeader('Connection', 'close');
      sendError(res, e);
    }
  });

  app.use((req, res) => sendError(res, regError('UNSUPPORTED', `no such endpoint: ${req.method} ${req.path}`, undefined, 404)));
  return app;
}
