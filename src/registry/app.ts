import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { metricsRegistry } from '../metrics/registry.js';
import { allows, parseScopes, scopeString, type Access, type TokenClaims, type TokenSigner } from './auth.js';
import { ANONYMOUS_PRINCIPAL, type AccessPolicy, type Principal } from './policy.js';
import { deleteBlob, deleteUpload, getBlob, getUpload, patchUpload, putUpload, startUpload } from './blobs.js';
import { RegistryError, regError } from './errors.js';
import { DEFAULT_MAX_MANIFEST_BYTES, deleteManifest, getManifest, putManifest } from './manifests.js';
import { registryRequests } from './metrics.js';
import { validateName } from './names.js';
import type { RegistryStorage } from './storage.js';

export interface RegistryAuth {
  /** Who may do what: users and ACL rules, or Berth identities checked by the API server (policy.ts). */
  policy: AccessPolicy;
  signer: TokenSigner;
  /** `service` in challenges and the token audience. */
  service: string;
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

/** The access a request needs (repository pull/push, or the catalog); `overwrite`: the PUT moves an existing tag. */
function needed(r: Route, method: string, overwrite: boolean): Access[] {
  if (r.kind === 'base') return [];
  if (r.kind === 'catalog') return [{ type: 'registry', name: 'catalog', actions: ['*'] }];
  const write = WRITE_METHODS.has(method);
  const action = r.kind === 'manifest' || r.kind === 'blob' ? (method === 'DELETE' ? 'delete' : write ? 'push' : 'pull') : write || r.kind === 'upload' ? 'push' : 'pull';
  return [{ type: 'repository', name: r.name, actions: overwrite ? [action, 'overwrite'] : [action] }];
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
      let who = ANONYMOUS_PRINCIPAL;
      if (creds) {
        const p = await auth.policy.login(creds.user, creds.password);
        if (!p) {
          res.setHeader('WWW-Authenticate', `Basic realm="${auth.service}"`);
          throw regError('UNAUTHORIZED', 'authentication required: incorrect username or password');
        }
        who = p;
      }
      // as the Docker token spec says: what was asked for and is allowed, never an error for the rest
      const granted: Access[] = await Promise.all(
        scopes.map(async (s): Promise<Access> => {
          if (s.type === 'repository') {
            const allowed = await auth.policy.actions(who, s.name);
            // push brings overwrite along when allowed (a tag that exists already needs it)
            const want = s.actions.includes('*') ? ['pull', 'push', 'delete'] : s.actions;
            const actions = want.filter((a) => allowed.has(a as 'pull'));
            // (with users and ACL, overwrite is part of push and the token says push only)
            if (!auth.policy.rechecksTokens && actions.includes('push') && allowed.has('overwrite')) actions.push('overwrite');
            return { type: s.type, name: s.name, actions };
          }
          return { type: s.type, name: s.name, actions: s.type === 'registry' && s.name === 'catalog' && (await auth.policy.maySeeCatalog(who)) ? ['*'] : [] };
        }),
      );
      const account = who.account;
      const ttl = auth.tokenTtlSeconds ?? 300;
      const { token, claims } = auth.signer.sign(account, auth.service, granted, ttl);
      res.json({ token, access_token: token, expires_in: ttl, issued_at: new Date(claims.iat * 1000).toISOString() });
    } catch (e) {
      sendError(res, e);
    }
  });

  /** What the policy lets `who` do on a repository (everything without auth). */
  const repoActions = async (who: Principal, name: string): Promise<ReadonlySet<string>> => (auth ? auth.policy.actions(who, name) : new Set(['pull', 'push', 'delete', 'overwrite']));
  const permits = async (who: Principal, a: Access, action: string): Promise<boolean> =>
    a.type === 'registry' ? !!auth && (await auth.policy.maySeeCatalog(who)) : (await repoActions(who, a.name)).has(action);

  const challenge = (req: Request, res: Response, access: Access[], error?: string): void => {
    if (!auth) return;
    const realm = `${req.protocol}://${req.headers.host ?? 'localhost'}/token`;
    const parts = [`realm="${realm}"`, `service="${auth.service}"`];
    if (access.length) parts.push(`scope="${access.map(scopeString).join(' ')}"`);
    if (error) parts.push(`error="${error}"`);
    res.setHeader('WWW-Authenticate', `Bearer ${parts.join(',')}`);
  };

  /**
   * Checks the request against the access it needs: without credentials, what anonymous users may
   * do is served and the rest challenged (401). A token the registry signed carries its grants: an
   * action it lacks is DENIED (403) when the policy refuses it (or, for a policy that does not
   * recheck, when the token was asked for that repository), else challenged for that scope (401
   * insufficient_scope, so the client fetches a token that has it). Other credentials (basic auth,
   * a Berth token as bearer) are checked against the policy directly: refused is DENIED.
   */
  const authorize = async (req: Request, res: Response, r: Route, overwrite: boolean): Promise<{ who?: Principal; claims?: TokenClaims }> => {
    if (!auth) return {};
    const need = needed(r, req.method, overwrite);
    // pushes and mounts also ask for pull, as Docker clients request `pull,push`
    const challengeScope = need.map((a) => (a.type === 'repository' && a.actions[0] !== 'pull' ? { ...a, actions: ['pull', ...a.actions.filter((x) => x !== 'overwrite')] } : a));
    const header = req.headers.authorization;
    const denied = (a: Access, action: string) => regError('DENIED', `requested access to the resource is denied: ${action} on ${a.type} ${a.name}`, { Type: a.type, Name: a.name, Action: action });
    const basic = basicCredentials(header);
    const bearer = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    if (bearer === undefined && !basic) {
      let anonymousOk = r.kind !== 'base';
      for (const a of need) for (const x of a.actions) if (anonymousOk && !(await permits(ANONYMOUS_PRINCIPAL, a, x))) anonymousOk = false;
      if (anonymousOk) return { who: ANONYMOUS_PRINCIPAL };
      challenge(req, res, challengeScope);
      throw regError('UNAUTHORIZED', 'authentication required', need.map((n) => ({ Type: n.type, Name: n.name, Action: n.actions[0] })));
    }
    const claims = bearer !== undefined ? auth.signer.verify(bearer, auth.service) : undefined;
    if (!claims) {
      // not a token of ours: basic credentials, or a bearer token the policy may know (a Berth token)
      const who = basic ? await auth.policy.login(basic.user, basic.password) : await auth.policy.bearer(bearer!);
      if (!who) {
        challenge(req, res, challengeScope, 'invalid_token');
        throw regError('UNAUTHORIZED', basic ? 'authentication required: incorrect username or password' : 'authentication required: the token is invalid or has expired');
      }
      for (const a of need) for (const action of a.actions) if (!(await permits(who, a, action))) throw denied(a, action);
      return { who };
    }
    const who: Principal = { account: claims.sub };
    for (const a of need) {
      for (const action of a.actions) {
        const policyAllows = auth.policy.rechecksTokens ? await permits(who, a, action) : true;
        const claimed = action === 'overwrite' && auth.policy.rechecksTokens ? 'push' : action;
        if (policyAllows && allows(claims, a.type, a.name, claimed)) continue;
        if (await permits(ANONYMOUS_PRINCIPAL, a, action)) continue;
        const asked = claims.access.some((g) => g.type === a.type && g.name === a.name && (action !== 'overwrite' || g.actions.includes('push')));
        if (!policyAllows || (!auth.policy.rechecksTokens && asked)) throw denied(a, action);
        challenge(req, res, challengeScope, 'insufficient_scope');
        throw regError('UNAUTHORIZED', `authentication required: the token does not grant ${action} on ${a.name}`);
      }
    }
    return { who, claims };
  };

  app.use(async (req: Request, res: Response, next: NextFunction) => {
    if (!req.path.startsWith('/v2')) return next();
    try {
      const r = route(req.path);
      if (!r) throw regError('UNSUPPORTED', `no such endpoint: ${req.method} ${req.path}`, undefined, 404);
      if ('name' in r) validateName(r.name);
      // a manifest PUT that moves an existing tag needs the right to overwrite it
      const overwrite = r.kind === 'manifest' && req.method === 'PUT' && !r.reference.includes(':') && (await storage.resolveTag(r.name, r.reference).catch(() => undefined)) !== undefined;
      const { who, claims } = await authorize(req, res, r, overwrite);
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
          const visible: string[] = [];
          for (const n of all) if (who === undefined || (await repoActions(who, n)).has('pull')) visible.push(n);
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
            const canMount = async (from: string): Promise<boolean> => {
              try {
                validateName(from);
              } catch {
                return false;
              }
              const pull = { type: 'repository', name: from, actions: ['pull'] };
              if (who === undefined || (await permits(ANONYMOUS_PRINCIPAL, pull, 'pull'))) return true;
              if (!claims) return permits(who, pull, 'pull');
              return (!auth?.policy.rechecksTokens || (await permits(who, pull, 'pull'))) && allows(claims, 'repository', from, 'pull');
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
