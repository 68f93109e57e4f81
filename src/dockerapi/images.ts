/**
 * /images/..., /build, /commit and /auth of the Docker Engine API: forwarded to the node image API
 * of this front's node (nodes/NODE/proxy/...), which speaks Docker's shapes; /build's `t` becomes the
 * node's `tags`, /commit's container becomes the Container's NAMESPACE/NAME; prune is done here.
 */
import { ContainerType } from '../client/kinds.js';
import { parseFiltersJson } from '../client/docker/filters.js';
import type { Handler } from './containers.js';
import { HttpError, sendJson } from './http.js';
import { baseImages } from '../client/docker/base-images.js';
import { readAll } from '../client/raw-request.js';
import { contextStream, spoolContext } from './build-context.js';
import { forwardToNode, nodeRequest, readNodeJson, relay } from './node-forward.js';
import { encodeRegistryAuth } from '../api/node-api.js';
import { DOCKER_HUB, dockerConfigSchema, loginFromAuths } from '../util/docker-config.js';

/**
 * The login for a base image's registry among those the docker CLI sends with a build
 * (X-Registry-Config: base64 JSON of registry -> AuthConfig), as the X-Registry-Auth of its pull.
 */
function baseImageAuth(header: string | string[] | undefined, image: string): string | undefined {
  if (typeof header !== 'string' || header.trim() === '') return undefined;
  let auths: unknown;
  try {
    auths = JSON.parse(Buffer.from(header.trim().replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8'));
  } catch {
    throw new HttpError(400, 'X-Registry-Config: not base64 of a JSON object');
  }
  const parsed = dockerConfigSchema.safeParse({ auths });
  if (!parsed.success) throw new HttpError(400, 'X-Registry-Config: not a map of registry to AuthConfig');
  const first = image.split('/')[0] ?? '';
  const registry = image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : DOCKER_HUB;
  const login = loginFromAuths(parsed.data.auths, registry);
  return login ? encodeRegistryAuth(login, registry) : undefined;
}

const pass = (path: (p: string[]) => string, o: { status?: number } = {}): Handler => async (ctx, req, res, params, q) => forwardToNode(ctx, req, res, path(params), q, o);

export const listImages = pass(() => '/images/json');
export const inspectImage = pass(([n]) => `/images/${encodeURIComponent(n!)}/json`);
export const imageHistory = pass(([n]) => `/images/${encodeURIComponent(n!)}/history`);
export const tagImage = pass(([n]) => `/images/${encodeURIComponent(n!)}/tag`, { status: 201 });
export const pushImage = pass(([n]) => `/images/${encodeURIComponent(n!)}/push`);
export const removeImage = pass(([n]) => `/images/${encodeURIComponent(n!)}`);
export const saveImages = pass(() => '/images/get');
export const loadImages = pass(() => '/images/load');
export const searchImages = pass(() => '/images/search');
export const auth = pass(() => '/auth');

/** POST /images/create: a pull (fromImage, tag) or an import (fromSrc=-). */
export const createImage: Handler = async (ctx, req, res, _p, q) => {
  const from = q.get('fromImage');
  const tag = q.get('tag');
  const query = new URLSearchParams(q);
  if (from && tag && !from.includes('@') && !/:[^/]*$/.test(from)) {
    query.set('fromImage', tag.startsWith('sha256:') ? `${from}@${tag}` : `${from}:${tag}`);
    query.delete('tag');
  }
  await forwardToNode(ctx, req, res, '/images/create', query);
};

export const saveImage: Handler = async (ctx, req, res, [n]) => forwardToNode(ctx, req, res, '/images/get', new URLSearchParams({ names: n! }));

/** POST /build (the legacy builder): missing base images pulled first, then Docker's t=... repeated as the node's tags=[...]. */
export const build: Handler = async (ctx, req, res, _p, q) => {
  const query = new URLSearchParams();
  const tags = q.getAll('t');
  if (tags.length) query.set('tags', JSON.stringify(tags));
  for (const k of ['dockerfile', 'buildargs', 'nocache', 'target']) {
    const v = q.get(k);
    if (v !== null && v !== '') query.set(k, v);
  }
  for (const k of ['remote', 'platform', 'outputs']) if (q.get(k)) throw new HttpError(400, `build ${k}= is not supported by Berth: send the context as a tar body`);
  let buildArgs: Record<string, string> = {};
  try {
    buildArgs = q.get('buildargs') ? (JSON.parse(q.get('buildargs')!) as Record<string, string>) : {};
  } catch {
    throw new HttpError(400, 'buildargs: not valid JSON');
  }
  const spooled = await spoolContext(req, q.get('dockerfile') || 'Dockerfile');
  try {
    const pullAll = /^(1|true)$/i.test(q.get('pull') ?? '');
    const lines: string[] = [];
    for (const base of spooled.dockerfile ? baseImages(spooled.dockerfile, buildArgs) : []) {
      const present = (await nodeRequest(ctx, 'GET', `/images/${encodeURIComponent(base)}/json`, new URLSearchParams()).then((r) => (r.resume(), r.statusCode === 200)));
      if (present && !pullAll) continue;
      const registryAuth = baseImageAuth(req.headers['x-registry-config'], base);
      const pull = await nodeRequest(ctx, 'POST', '/images/create', new URLSearchParams({ fromImage: base }), registryAuth ? { registryAuth } : {});
      const text = await readAll(pull);
      if ((pull.statusCode ?? 500) >= 400) {
        let message = text;
        try {
          message = (JSON.parse(text) as { message?: string }).message ?? text;
        } catch {
          // plain text
        }
        throw new HttpError(pull.statusCode ?? 500, `pulling base image ${base}: ${message}`);
      }
      const failed = text.split('\n').map((l) => { try { return JSON.parse(l) as { error?: string }; } catch { return {}; } }).find((m) => m.error);
      if (failed) throw new HttpError(404, `pulling base image ${base}: ${failed.error}`);
      lines.push(JSON.stringify({ stream: `Pulled base image ${base}\n` }));
    }
    const up = await nodeRequest(ctx, 'POST', '/build', query, { body: contextStream(spooled), contentType: 'application/x-tar' });
    if (lines.length && (up.statusCode ?? 500) < 400) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`${lines.join('\n')}\n`);
      up.pipe(res);
      await new Promise<void>((resolve) => up.once('end', resolve).once('close', resolve));
      return;
    }
    await relay(up, res);
  } finally {
    await spooled.cleanup();
  }
};

/** POST /commit?container=ID: the Container's NAMESPACE/NAME, on its node. */
export const commit: Handler = async (ctx, req, res, _p, q) => {
  const ref = q.get('container');
  if (!ref) throw new HttpError(400, 'container: the container to commit is required');
  const c = await ctx.engine.findContainer(ref);
  const query = new URLSearchParams(q);
  query.set('container', `${ctx.namespace}/${c.metadata.name}`);
  if (q.get('pause') === null) query.delete('pause');
  const node = (c.spec as { nodeName?: string } | undefined)?.nodeName ?? ctx.nodeName;
  const up = await nodeRequest(ctx, 'POST', '/commit', query, { node, ...(req.headers['content-type'] ? {} : {}) });
  req.resume();
  const r = await readNodeJson<{ Id: string }>(up);
  sendJson(res, 201, r);
};

/** POST /images/prune: dangling images (every unused one with dangling=false), none that a Container uses. */
export const pruneImages: Handler = async (ctx, _req, res, _p, q) => {
  const filters = parseFiltersJson(q.get('filters'));
  const all = (filters.dangling ?? []).some((v) => v === 'false' || v === '0');
  const list = await readNodeJson<Array<{ Id: string; Size: number }>>(await nodeRequest(ctx, 'GET', '/images/json', all ? new URLSearchParams() : new URLSearchParams({ filters: JSON.stringify({ dangling: ['true'] }) })));
  const used = new Set<string>();
  for (const c of (await ctx.client.resource(ContainerType).listAll()).items) {
    const id = (c.status as { imageID?: string } | undefined)?.imageID;
    if (id) used.add(id);
  }
  const deleted: unknown[] = [];
  let reclaimed = 0;
  for (const img of list) {
    if (used.has(img.Id)) continue;
    try {
      deleted.push(...(await readNodeJson<unknown[]>(await nodeRequest(ctx, 'DELETE', `/images/${encodeURIComponent(img.Id)}`, new URLSearchParams({ force: '1' })))));
      reclaimed += img.Size;
    } catch {
      // used after all: kept
    }
  }
  sendJson(res, 200, { ImagesDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed });
};
