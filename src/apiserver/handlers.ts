/** REST verbs on resources: get, list, watch, create, update, patch, delete, deletecollection. */
import type { Request, Response } from 'express';
import type { KindInfo } from '../api/kind.js';
import type { ApiObject } from '../api/meta.js';
import { apiVersionOf } from '../api/kind.js';
import type { Store } from '../store/types.js';
import type { UserInfo } from './auth/authn.js';
import { parseBody } from './body.js';
import { isObject } from './objects.js';
import { patchTypeOf } from './patch.js';
import { managerFromUserAgent, parseQuery, type ResourceQuery } from './query.js';
import type { ResourceTarget } from './resource-path.js';
import type { PropagationPolicy, Resources, Subresource, WriteOptions, WriteResult } from './resources.js';
import { errors } from './status.js';
import { subresourceVerbs, type SubresourceVerb } from './strategy.js';
import { toTable, wantsTable } from './table.js';
import { serveWatch, defaultWatchSettings, WatchLimiter, type WatchSettings } from './watch.js';

const VERB_OF_METHOD: Record<string, SubresourceVerb | undefined> = { GET: 'get', PUT: 'update', PATCH: 'patch' };

/** What the metrics middleware labels a request with. */
export interface RequestLabels {
  verb: string;
  resource: string;
  subresource: string;
}

export class ResourceHandlers {
  private readonly watches: WatchLimiter;

  constructor(
    private readonly store: Store,
    private readonly resources: Resources,
    private readonly watchSettings: WatchSettings = defaultWatchSettings,
  ) {
    this.watches = new WatchLimiter(watchSettings.maxWatchesPerUser);
  }

  /** Serves a watch, counted against its identity's limit until the response closes. */
  private watch(target: { kind: KindInfo; namespace: string }, q: ResourceQuery, asTable: boolean, req: Request, res: Response): Promise<void> {
    const user = (res.locals.user as UserInfo | undefined)?.name ?? '';
    this.watches.acquire(user);
    res.once('close', () => this.watches.release(user));
    return serveWatch(this.store, target, q, asTable, req, res, this.watchSettings);
  }

  async handle(target: ResourceTarget, req: Request, res: Response, labels: RequestLabels): Promise<void> {
    const { kind, namespace, name, subresource } = target;
    labels.resource = kind.plural;
    labels.subresource = subresource ?? '';
    const method = req.method.toUpperCase();
    if (subresource !== undefined) this.checkSubresource(kind, subresource, method, req.path);
    const sub = subresource as Subresource;
    const q = parseQuery(req);
    const asTable = wantsTable(req.get('accept'));

    if (name === undefined) {
      if (method === 'GET' && q.watch) {
        labels.verb = 'WATCH';
        return this.watch({ kind, namespace }, q, asTable, req, res);
      }
      if (method === 'GET') {
        labels.verb = 'LIST';
        return this.list(kind, namespace, q, asTable, res);
      }
      if (method === 'POST') {
        labels.verb = 'POST';
        if (kind.namespaced && !namespace) throw errors.methodNotAllowed('POST on all namespaces');
        const body = this.body(req);
        return this.sendWrite(res, await this.resources.create(kind, namespace, body, this.writeOptions(q, req)));
      }
      if (method === 'DELETE') {
        labels.verb = 'DELETECOLLECTION';
        return this.deleteCollection(kind, namespace, q, req, res);
      }
      throw errors.methodNotAllowed(method);
    }

    switch (method) {
      case 'GET': {
        labels.verb = q.watch ? 'WATCH' : 'GET';
        if (q.watch) {
          return this.watch({ kind, namespace }, { ...q, fieldSelector: [`metadata.name=${name}`, q.fieldSelector].filter(Boolean).join(',') }, asTable, req, res);
        }
        const obj = await this.resources.get(kind, namespace, name);
        res.json(asTable ? toTable(kind, [obj], { include: q.includeObject, withColumns: true, metadata: { resourceVersion: obj.metadata.resourceVersion ?? '' } }) : obj);
        return;
      }
      case 'PUT': {
        labels.verb = 'PUT';
        return this.sendWrite(res, await this.resources.replace(kind, namespace, name, this.body(req), this.writeOptions(q, req), sub));
      }
      case 'PATCH': {
        labels.verb = 'PATCH';
        const type = patchTypeOf(req.get('content-type') ?? '');
        if (!type) throw errors.unsupportedMediaType(req.get('content-type') ?? '');
        const result = await this.resources.patch(kind, namespace, name, type, this.body(req, true), this.writeOptions(q, req, type === 'apply'), sub);
        return this.sendWrite(res, result.code === 201 ? result : { ...result, code: 200 });
      }
      case 'DELETE': {
        labels.verb = 'DELETE';
        const opts = this.deleteOptions(req, q);
        const out = await this.resources.delete(kind, namespace, name, opts);
        res.status(out.deleted ? 200 : 202).json(out.deleted ? out.status : out.object);
        return;
      }
      default:
        throw errors.methodNotAllowed(method);
    }
  }

  /** The kind serves `subresource` (its strategy says so) and takes `method` there. */
  private checkSubresource(kind: KindInfo, subresource: string, method: string, path: string): void {
    const verbs = subresourceVerbs(this.resources.strategies.for(kind), subresource);
    if (!verbs) throw errors.pathNotFound(path);
    const verb = VERB_OF_METHOD[method];
    if (verb === undefined || !verbs.includes(verb)) throw errors.methodNotAllowed(method);
  }

  private async list(kind: KindInfo, namespace: string, q: ResourceQuery, asTable: boolean, res: Response): Promise<void> {
    const result = await this.resources.list(kind, namespace, {
      ...(q.labelSelector ? { labelSelector: q.labelSelector } : {}),
      ...(q.fieldSelector ? { fieldSelector: q.fieldSelector } : {}),
      ...(q.limit ? { limit: q.limit } : {}),
      ...(q.continue ? { continue: q.continue } : {}),
    });
    const metadata = {
      resourceVersion: result.resourceVersion,
      ...(result.continue ? { continue: result.continue } : {}),
      ...(result.remainingItemCount !== undefined ? { remainingItemCount: result.remainingItemCount } : {}),
    };
    if (asTable) {
      res.json(toTable(kind, result.items, { include: q.includeObject, withColumns: true, metadata }));
      return;
    }
    res.json({ kind: kind.listKind, apiVersion: apiVersionOf(kind), metadata, items: result.items });
  }

  private async deleteCollection(kind: KindInfo, namespace: string, q: ResourceQuery, req: Request, res: Response): Promise<void> {
    const opts = this.deleteOptions(req, q);
    const result = await this.resources.list(kind, namespace, {
      ...(q.labelSelector ? { labelSelector: q.labelSelector } : {}),
      ...(q.fieldSelector ? { fieldSelector: q.fieldSelector } : {}),
    });
    const items: ApiObject[] = [];
    for (const obj of result.items) {
      try {
        const out = await this.resources.delete(kind, obj.metadata.namespace ?? '', obj.metadata.name, opts);
        items.push(out.object);
      } catch (err) {
        // Gone meanwhile: that is what was asked.
        if (!(isObject(err) && (err as { code?: number }).code === 404)) throw err;
      }
    }
    res.json({ kind: kind.listKind, apiVersion: apiVersionOf(kind), metadata: { resourceVersion: String(await this.store.revision()) }, items });
  }

  private body(req: Request, patch = false): unknown {
    const raw = Buffer.isBuffer(req.body) ? req.body : undefined;
    const body = parseBody(raw, req.get('content-type') ?? 'application/json', patch);
    if (body === undefined) throw errors.badRequest('the request needs a body');
    return body;
  }

  private writeOptions(q: ResourceQuery, req: Request, apply = false): WriteOptions {
    const manager = q.fieldManager ?? (apply ? '' : managerFromUserAgent(req.get('user-agent')));
    if (manager.length > 128) throw errors.badRequest('fieldManager must be at most 128 characters');
    const user = req.res?.locals.user as UserInfo | undefined;
    return { fieldManager: manager, dryRun: q.dryRun, fieldValidation: q.fieldValidation, force: q.force, ...(user ? { user } : {}) };
  }

  private deleteOptions(req: Request, q: ResourceQuery): { dryRun: boolean; propagationPolicy?: PropagationPolicy; preconditions?: { uid?: string; resourceVersion?: string } } {
    const raw = Buffer.isBuffer(req.body) && req.body.length > 0 ? parseBody(req.body, req.get('content-type') ?? 'application/json') : undefined;
    const body = isObject(raw) ? raw : {};
    if (raw !== undefined && !isObject(raw)) throw errors.badRequest('DeleteOptions must be an object');
    let policy = q.propagationPolicy ?? (body.propagationPolicy as PropagationPolicy | undefined);
    // The deprecated orphanDependents, when no propagationPolicy is given: true is Orphan, false Background.
    if (typeof body.orphanDependents === 'boolean' && !policy) policy = body.orphanDependents ? 'Orphan' : 'Background';
    if (policy !== undefined && !['Background', 'Foreground', 'Orphan'].includes(policy)) {
      throw errors.badRequest(`propagationPolicy must be Background, Foreground or Orphan, got "${String(policy)}"`);
    }
    const dry = Array.isArray(body.dryRun) && body.dryRun.includes('All');
    const pre = isObject(body.preconditions) ? body.preconditions : undefined;
    return {
      dryRun: q.dryRun || dry,
      ...(policy ? { propagationPolicy: policy } : {}),
      ...(pre
        ? {
            preconditions: {
              ...(typeof pre.uid === 'string' ? { uid: pre.uid } : {}),
              ...(typeof pre.resourceVersion === 'string' ? { resourceVersion: pre.resourceVersion } : {}),
            },
          }
        : {}),
    };
  }

  private sendWrite(res: Response, result: WriteResult): void {
    if (result.warnings.length > 0) {
      res.setHeader('Warning', result.warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', '));
    }
    res.status(result.code).json(result.object);
  }
}
