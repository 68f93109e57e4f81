/**
 * The node image API on the agent endpoint, shaped after Docker Engine API's image endpoints
 * (list, inspect, history, tag, remove, search, system df, auth here; pull, push, import, load,
 * save and commit in image-transfer.ts). The CLI's image verbs reach it through the API server
 * (nodes/NAME/proxy/PATH), so the agent stays the only writer of its runtime root.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseImageRef } from '../api/imageref.js';
import { decodeRegistryAuth, loginOf, matchNodeApiRoute, nodeApiPathExists, REGISTRY_AUTH_HEADER, type NodeApiMatch } from '../api/node-api.js';
import { RuntimeError, type Distribution, type Runtime } from '../runtime/index.js';
import { badRequest, HttpError, readJsonObject, send, sendError } from './http-io.js';
import { ImageTransfers } from './image-transfer.js';
import { LABEL_NAME, LABEL_NAMESPACE } from './names.js';
import { imageName, parseFilters, Query, targetName } from './query-params.js';
import { registrySession } from './registry-session.js';

export interface ImageApiOptions {
  runtime: Runtime;
  /** The node's registry client; without it pull, push, search and auth answer 503. */
  distribution?: Distribution;
}

const unix = (iso: string | undefined): number => {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(t) ? Math.floor(t / 1000) : 0;
};

/** path.Match as Docker's reference filter uses it: `*` and `?` stay within a path component. */
function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`);
}

/** "repo:tag" and "repo" of a stored name, for the reference filter (Docker matches either). */
function nameForms(name: string): string[] {
  const r = parseImageRef(name);
  if (!r) return [name];
  const repo = `${r.domain ? `${r.domain}/` : ''}${r.path}`;
  return r.tag ? [`${repo}:${r.tag}`, repo] : [repo];
}

export class ImageApi {
  private readonly transfers: ImageTransfers;

  constructor(private readonly o: ImageApiOptions) {
    this.transfers = new ImageTransfers(o.runtime);
  }

  /** Serves the request when its path belongs to the image API; false when it does not (the caller answers). */
  async handle(path: string, url: URL, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    if (path === '/build') return false;
    const match = matchNodeApiRoute(req.method ?? 'GET', path);
    if (!match) {
      if (!nodeApiPathExists(path)) return false;
      send(res, 405, { message: `${req.method} is not allowed on ${path}` });
      return true;
    }
    try {
      await this.route(match, new Query(url.searchParams), req, res);
    } catch (e) {
      sendError(res, e);
    }
    return true;
  }

  private async route(m: NodeApiMatch, q: Query, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const name = m.name === undefined ? '' : imageName(m.name);
    const login = (): ReturnType<typeof decodeRegistryAuth> => decodeRegistryAuth(req.headers[REGISTRY_AUTH_HEADER] as string | undefined);
    switch (m.route.name) {
      case 'images/list':
        return send(res, 200, await this.list(q));
      case 'images/inspect':
        return send(res, 200, await this.o.runtime.images.inspect(name));
      case 'images/history':
        return send(res, 200, await this.history(name));
      case 'images/tag':
        return this.tag(name, q, res);
      case 'images/remove':
        return send(res, 200, await this.remove(name, q));
      case 'images/search':
        return send(res, 200, await this.search(q, login()));
      case 'system/df':
        return send(res, 200, await this.df());
      case 'auth':
        return this.auth(req, res);
      case 'images/create':
        if (q.string('fromSrc') !== undefined) {
          if (q.string('fromImage') !== undefined) throw badRequest('fromImage: cannot be given with fromSrc (pull or import, not both)');
          return this.transfers.importImage(q, req, res);
        }
        return this.transfers.pull(q, this.registry(login()), res);
      case 'images/push':
        return this.transfers.push(name, q, this.registry(login()), res);
      case 'images/load':
        return this.transfers.load(q, req, res);
      case 'images/save':
        return this.transfers.save(q, res);
      case 'commit':
        return this.transfers.commit(q, res);
      case 'build':
        // served by the endpoint itself (remote-build.ts)
        throw new HttpError(404, 'build is not an image API path');
    }
  }

  private registry(login: ReturnType<typeof decodeRegistryAuth>): Distribution {
    if (!this.o.distribution) throw new HttpError(503, 'this node has no registry client');
    return registrySession(this.o.distribution, login);
  }

  /** GET /images/json: Docker's ImageSummary list, newest first. */
  private async list(q: Query): Promise<object[]> {
    q.bool('all');
    q.bool('digests');
    const filters = parseFilters(q.string('filters'), ['dangling', 'reference', 'label', 'before', 'since']);
    const dangling = filters.get('dangling');
    if (dangling && (dangling.length !== 1 || !['true', 'false', '1', '0'].includes(dangling[0]!))) throw badRequest('filters: dangling takes one of true or false');
    const patterns = (filters.get('reference') ?? []).map(globToRegExp);
    const labels = filters.get('label') ?? [];
    const before = filters.get('before')?.[0];
    const since = filters.get('since')?.[0];
    const createdOf = async (ref: string, key: string): Promise<string | undefined> => {
      try {
        return (await this.o.runtime.images.inspect(imageName(ref, `filters: ${key}`))).Created;
      } catch (e) {
        if (e instanceof RuntimeError && e.code === 'NotFound') throw badRequest(`filters: ${key}: no such image "${ref}"`);
        throw e;
      }
    };
    const beforeT = before ? unix(await createdOf(before, 'before')) : undefined;
    const sinceT = since ? unix(await createdOf(since, 'since')) : undefined;
    const list = await this.o.runtime.images.list(dangling ? { dangling: dangling[0] === 'true' || dangling[0] === '1' } : {});
    const out: object[] = [];
    for (const img of list) {
      // as dockerd: with a reference filter an image is listed under the names that match, if any
      const repoTags = patterns.length ? img.repoTags.filter((n) => nameForms(n).some((f) => patterns.some((p) => p.test(f)))) : img.repoTags;
      if (patterns.length && repoTags.length === 0) continue;
      const ins = await this.o.runtime.images.inspect(img.id);
      const imgLabels = ins.Config.Labels;
      if (!labels.every((l) => (l.includes('=') ? imgLabels[l.slice(0, l.indexOf('='))] === l.slice(l.indexOf('=') + 1) : l in imgLabels))) continue;
      const created = unix(img.created);
      if (beforeT !== undefined && created >= beforeT) continue;
      if (sinceT !== undefined && created <= sinceT) continue;
      out.push({ Id: img.id, ParentId: ins.Parent, RepoTags: repoTags, RepoDigests: [], Created: created, Size: img.size, SharedSize: -1, Labels: imgLabels, Containers: -1 });
    }
    return out;
  }

  /** GET /images/{name}/history: Docker's HistoryResponseItem list, newest first. */
  private async history(name: string): Promise<object[]> {
    const rows = await this.o.runtime.images.history(name);
    const tags = rows[0] ? await this.o.runtime.images.namesOf(rows[0].id) : [];
    return rows.map((r, i) => ({ Id: r.id, Created: unix(r.created), CreatedBy: r.createdBy, Tags: i === 0 ? tags : null, Size: r.size, Comment: r.comment }));
  }

  /** POST /images/{name}/tag?repo=&tag=: 201, as dockerd answers. */
  private async tag(name: string, q: Query, res: ServerResponse): Promise<void> {
    const target = targetName(q.required('repo'), q.string('tag'));
    await this.o.runtime.images.tag(name, target);
    res.writeHead(201).end();
  }

  /**
   * DELETE /images/{name}?force=&noprune=: Docker's rmi. A last name (or an ID) deletes the image;
   * while a container uses it that is a 409 naming the Container, unless forced (a running
   * container's image is then only untagged). The runtime never removes parent images, so
   * noprune is what always happens.
   */
  private async remove(name: string, q: Query): Promise<object[]> {
    const force = q.bool('force');
    q.bool('noprune');
    try {
      const report = await this.o.runtime.images.remove(name, { force });
      return report.map((r) => ('untagged' in r ? { Untagged: r.untagged } : { Deleted: r.deleted }));
    } catch (e) {
      if (!(e instanceof RuntimeError) || e.code !== 'Conflict') throw e;
      const users = await this.usersOf(name);
      throw new HttpError(409, users.length ? `conflict: unable to remove image "${name}" (must force): container ${users.join(', ')} is using it` : `conflict: ${e.message}`);
    }
  }

  /** The Containers (NAMESPACE/NAME, else the runtime name) whose runtime container uses the image. */
  private async usersOf(name: string): Promise<string[]> {
    const rt = this.o.runtime;
    const id = (await rt.images.inspect(name)).Id;
    const out: string[] = [];
    for (const u of await rt.containers.usersOfImage(id)) {
      const rec = await rt.containers.resolve(u.id).catch(() => undefined);
      const ns = rec?.options.labels[LABEL_NAMESPACE];
      const n = rec?.options.labels[LABEL_NAME];
      out.push(ns && n ? `${ns}/${n}` : (rec?.name ?? u.id.slice(0, 12)));
    }
    return out;
  }

  /** GET /images/search?term=REGISTRY/TERM&limit=N: repositories of a registry's catalog. */
  private async search(q: Query, login: ReturnType<typeof decodeRegistryAuth>): Promise<object[]> {
    const raw = q.required('term');
    const limit = q.int('limit', 1, 1000) ?? 25;
    const slash = raw.indexOf('/');
    const registry = slash < 0 ? raw : raw.slice(0, slash);
    const term = slash < 0 ? '' : raw.slice(slash + 1);
    if (!/^[a-zA-Z0-9.-]+(:\d{1,5})?$/.test(registry)) throw badRequest(`term: "${registry.slice(0, 300)}" is not a registry host[:port]: search REGISTRY/TERM`);
    const names = await this.registry(login).search(registry, term, limit);
    return names.map((n) => ({ name: `${registry}/${n}`, description: '', star_count: 0, is_official: false, is_automated: false }));
  }

  /** POST /auth: checks a login against a registry from this node, as dockerd does; saves nothing. */
  private async auth(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJsonObject(req);
    const login = loginOf(body, 'body');
    if (!login) throw badRequest('body: username and password are required');
    const server = typeof body.serveraddress === 'string' && body.serveraddress !== '' ? body.serveraddress : 'docker.io';
    const host = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    if (!/^[a-zA-Z0-9.-]+(:\d{1,5})?$/.test(host)) throw badRequest(`serveraddress: "${server.slice(0, 300)}" is not a registry host[:port]`);
    await this.registry(login).login(host, login);
    send(res, 200, { Status: 'Login Succeeded', IdentityToken: '' });
  }

  /** GET /system/df: Docker's disk usage document. */
  private async df(): Promise<object> {
    const rt = this.o.runtime;
    const usage = await rt.systemDf();
    const containers = await rt.containers.list({ all: true, size: true });
    const useCount = new Map<string, number>();
    for (const c of containers) useCount.set(c.imageId, (useCount.get(c.imageId) ?? 0) + 1);
    const images = (await rt.images.list()).map((img) => ({ Id: img.id, ParentId: '', RepoTags: img.repoTags, RepoDigests: [], Created: unix(img.created), Size: img.size, SharedSize: -1, Labels: {}, Containers: useCount.get(img.id) ?? 0 }));
    const volumes = [];
    for (const v of await rt.volumes.list()) volumes.push({ Name: v.name, Driver: 'local', Mountpoint: v.mountpoint, UsageData: { Size: await rt.volumes.size(v.name), RefCount: (await rt.volumes.usedBy(v.name)).length } });
    return {
      LayersSize: usage.images.size,
      Images: images,
      Containers: containers.map((c) => ({ Id: c.id, Names: [`/${c.name}`], Image: c.image, ImageID: c.imageId, Command: c.command, Created: unix(c.created), State: c.status, SizeRw: c.sizeRw ?? 0, SizeRootFs: c.sizeRootFs ?? 0 })),
      Volumes: volumes,
      BuildCache: [],
    };
  }
}
