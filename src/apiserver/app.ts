/** The express application: health, version, discovery, OpenAPI, metrics and the resource API. */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { KindInfo } from '../api/kind.js';
import { apiRequestDuration, apiRequests } from '../metrics/apiserver.js';
import { metricsRegistry } from '../metrics/registry.js';
import { logger } from '../util/log.js';
import { InvalidContinueError, SelectorError, TooOldError, type Store } from '../store/types.js';
import type { AuthDoor } from './auth/door.js';
import type { UserInfo } from './auth/authn.js';
import { AUTHZ_GROUP, authorizationResourceList, serveReview } from './auth/reviews.js';
import { MAX_BODY_BYTES, parseBody } from './body.js';
import { isObject } from './objects.js';
import { apiGroupDoc, apiGroupList, apiResourceList, apiVersions, versionInfo, type SubresourceVerbs } from './discovery.js';
import { mountGitWebhook } from './git-webhook.js';
import { ResourceHandlers, type RequestLabels } from './handlers.js';
import { pathSegmentProblem } from './meta-validation.js';
import { resolveTarget } from './resource-path.js';
import type { Resources } from './resources.js';
import { ApiError, errors } from './status.js';
import type { WatchSettings } from './watch.js';

export interface OpenApiSource {
  index(): object;
  groupVersion(path: string): object | undefined;
}

export interface AppDeps {
  store: Store;
  resources: Resources;
  kinds: KindInfo[];
  /** Authentication and authorisation of every request. */
  door: AuthDoor;
  openapi: OpenApiSource;
  /** Extra subresources to advertise per kind (log, exec when an agent proxy is present). */
  subresources?: (k: KindInfo) => SubresourceVerbs;
  /** Extra routes mounted after authentication (agent proxies...). */
  extraRoutes?: (app: express.Express) => void;
  ready?: () => boolean;
  watch?: WatchSettings;
  /**
   * Paths served without a credential besides the health endpoints: routes that authenticate
   * their callers themselves (a webhook checking its HMAC signature). Nothing else is.
   */
  unauthenticatedPaths?: RegExp[];
}

const ANONYMOUS_PATHS = new Set(['/healthz', '/livez', '/readyz', '/version']);

function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof SelectorError) return errors.badRequest(err.message);
  if (err instanceof InvalidContinueError) return errors.badRequest(err.message);
  if (err instanceof TooOldError) return errors.gone(err.message);
  // decodeURIComponent of a path segment with a stray '%'
  if (err instanceof URIError) return errors.badRequest(`malformed request path: ${err.message}`);
  const e = err as { type?: string; status?: number; message?: string };
  if (e?.type === 'entity.too.large' || e?.status === 413) return errors.tooLarge(MAX_BODY_BYTES);
  if (e?.status === 400) return errors.badRequest(e.message ?? 'bad request');
  // Unexpected by definition: the one place a stack is worth its lines.
  logger('apiserver').error({ err }, 'internal error');
  return errors.internal(err instanceof Error ? err.message : String(err));
}

export function sendError(res: Response, err: unknown): void {
  const apiErr = toApiError(err);
  if (res.headersSent) {
    res.end();
    return;
  }
  res.status(apiErr.code).json(apiErr.toStatus());
}

export function createApp(deps: AppDeps): express.Express {
  const { kinds } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  const handlers = new ResourceHandlers(deps.store, deps.resources, deps.watch);
  const subresources = (k: KindInfo): SubresourceVerbs => ({ ...deps.resources.strategies.for(k).subresources, ...deps.subresources?.(k) });

  app.use((req: Request, res: Response, next: NextFunction) => {
    const labels: RequestLabels = { verb: req.method.toUpperCase(), resource: '', subresource: '' };
    res.locals.labels = labels;
    const end = apiRequestDuration.startTimer();
    res.on('finish', () => {
      apiRequests.inc({ ...labels, code: String(res.statusCode) });
      if (labels.verb !== 'WATCH') end({ verb: labels.verb, resource: labels.resource, subresource: labels.subresource });
    });
    next();
  });

  const ok = (_req: Request, res: Response) => {
    res.type('text/plain').send('ok');
  };
  app.get(['/healthz', '/livez'], ok);
  app.get('/readyz', (req, res) => {
    if (deps.ready && !deps.ready()) {
      res.status(503).type('text/plain').send('not ready');
      return;
    }
    ok(req, res);
  });
  app.get('/version', (_req, res) => {
    res.json(versionInfo());
  });

  // signed by the GitSync's webhook token instead of a bearer token (git hosts cannot send one)
  mountGitWebhook(app, { resources: deps.resources, kinds });

  // The one door: nothing below runs for a request that is not authenticated and authorised.
  const nameFromBody = (req: Request, res: Response) => (): Promise<string | undefined> =>
    new Promise((resolve) => {
      express.raw({ type: () => true, limit: MAX_BODY_BYTES })(req, res, () => {
        try {
          const body = Buffer.isBuffer(req.body) ? parseBody(req.body, req.get('content-type') ?? 'application/json') : undefined;
          const name = isObject(body) && isObject(body.metadata) ? body.metadata.name : undefined;
          resolve(typeof name === 'string' ? name : undefined);
        } catch {
          resolve(undefined);
        }
      });
    });
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (ANONYMOUS_PATHS.has(req.path) || deps.unauthenticatedPaths?.some((p) => p.test(req.path))) return next();
    deps.door.admit(req, nameFromBody(req, res)).then(
      ({ user }) => {
        res.locals.user = user;
        next();
      },
      (err: unknown) => sendError(res, err),
    );
  });

  app.get('/metrics', async (_req, res) => {
    res.type(metricsRegistry.contentType).send(await metricsRegistry.metrics());
  });

  app.get('/api', (_req, res) => {
    res.json(apiVersions());
  });
  app.get('/apis', (_req, res) => {
    res.json(apiGroupList(kinds, [{ group: AUTHZ_GROUP, version: 'v1' }]));
  });
  app.get(`/apis/${AUTHZ_GROUP}`, (_req, res) => {
    res.json(apiGroupDoc([], AUTHZ_GROUP, ['v1']));
  });
  app.get(`/apis/${AUTHZ_GROUP}/v1`, (_req, res) => {
    res.json(authorizationResourceList());
  });
  const reviews = express.raw({ type: () => true, limit: MAX_BODY_BYTES });
  app.all(new RegExp(`^/apis/${AUTHZ_GROUP.replace(/\./g, '\\.')}/v1/(.+)$`), reviews, (req, res) => {
    const rest = String(req.params[0]).split('/').filter((s) => s !== '');
    serveReview(deps.door.authorizer, res.locals.user as UserInfo, rest, req, res).catch((err: unknown) => sendError(res, err));
  });
  app.get('/api/v1', (_req, res) => {
    res.json(apiResourceList(kinds, '', 'v1', subresources));
  });
  app.get('/apis/:group', (req, res) => {
    const doc = apiGroupDoc(kinds, req.params.group);
    if (!doc) return sendError(res, errors.pathNotFound(req.path));
    res.json(doc);
  });
  app.get('/apis/:group/:version', (req, res) => {
    const doc = apiResourceList(kinds, req.params.group, req.params.version, subresources);
    if (!doc) return sendError(res, errors.pathNotFound(req.path));
    res.json(doc);
  });
  app.get('/openapi/v3', (_req, res) => {
    res.json(deps.openapi.index());
  });
  app.get(/^\/openapi\/v3\/(.+)$/, (req, res) => {
    const doc = deps.openapi.groupVersion(String(req.params[0]));
    if (!doc) return sendError(res, errors.pathNotFound(req.path));
    res.json(doc);
  });

  deps.extraRoutes?.(app);

  const raw = express.raw({ type: () => true, limit: MAX_BODY_BYTES });
  const resource = (group: string, version: string, rest: string, req: Request, res: Response): void => {
    let segments: string[];
    try {
      segments = rest.split('/').filter((s) => s.length > 0).map(decodeURIComponent);
    } catch {
      return sendError(res, errors.badRequest(`malformed percent-encoding in the request path ${JSON.stringify(req.path)}`));
    }
    const target = resolveTarget(kinds, group, version, segments);
    if (!target) return sendError(res, errors.pathNotFound(req.path));
    for (const [what, value] of [['namespace', target.namespace], ['resource name', target.name]] as const) {
      const problem = value ? pathSegmentProblem(value) : undefined;
      if (problem) return sendError(res, errors.badRequest(`invalid ${what} ${JSON.stringify(value)}: ${problem}`));
    }
    handlers.handle(target, req, res, res.locals.labels as RequestLabels).catch((err: unknown) => sendError(res, err));
  };
  app.all(/^\/api\/v1\/(.+)$/, raw, (req, res) => resource('', 'v1', String(req.params[0]), req, res));
  app.all(/^\/apis\/([^/]+)\/([^/]+)\/(.+)$/, raw, (req, res) =>
    resource(String(req.params[0]), String(req.params[1]), String(req.params[2]), req, res),
  );

  app.use((req: Request, res: Response) => sendError(res, errors.pathNotFound(req.path)));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => sendError(res, err));
  return app;
}
