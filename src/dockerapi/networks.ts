/** /networks/... of the Docker Engine API over Network objects (src/client/docker/networks.ts): list, inspect, create, delete, connect, disconnect, prune. */
import { parseFiltersJson } from '../client/docker/filters.js';
import { dockerIdOf } from '../client/docker/names.js';
import { DockerNetworks, type CreateNetworkBody } from '../client/docker/networks.js';
import type { Handler } from './containers.js';
import type { FrontContext } from './context.js';
import { HttpError, readJson, sendJson } from './http.js';

const nets = (ctx: FrontContext) => new DockerNetworks(ctx.engine, 'docker-api');

export const listNetworks: Handler = async (ctx, _req, res, _p, q) => {
  sendJson(res, 200, await nets(ctx).views(parseFiltersJson(q.get('filters'))));
};

export const inspectNetwork: Handler = async (ctx, _req, res, [ref]) => {
  const n = nets(ctx);
  sendJson(res, 200, await n.view(await n.find(decodeURIComponent(ref!))));
};

export const createNetwork: Handler = async (ctx, req, res) => {
  const body = await readJson(req);
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'network create: a JSON object with Name is required');
  const created = await nets(ctx).create(body as CreateNetworkBody);
  sendJson(res, 201, { Id: dockerIdOf(created), Warning: '' });
};

export const deleteNetwork: Handler = async (ctx, _req, res, [ref]) => {
  const n = nets(ctx);
  await n.remove(await n.find(decodeURIComponent(ref!)));
  res.writeHead(204).end();
};

export const pruneNetworks: Handler = async (ctx, req, res) => {
  req.resume();
  const deleted = await nets(ctx).prune();
  sendJson(res, 200, { NetworksDeleted: deleted.length ? deleted : null });
};

const endpointBody = async (req: Parameters<Handler>[1]) => {
  const body = ((await readJson(req)) ?? {}) as { Container?: unknown; Force?: unknown; EndpointConfig?: { Aliases?: unknown; IPAMConfig?: { IPv4Address?: unknown } | null } | null };
  if (typeof body.Container !== 'string' || !body.Container) throw new HttpError(400, 'Container: the container to (dis)connect is required');
  return body as { Container: string; Force?: unknown; EndpointConfig?: { Aliases?: unknown; IPAMConfig?: { IPv4Address?: unknown } | null } | null };
};

export const connectNetwork: Handler = async (ctx, req, res, [ref]) => {
  const body = await endpointBody(req);
  const n = nets(ctx);
  const net = await n.find(decodeURIComponent(ref!));
  const container = await ctx.engine.findContainer(body.Container);
  const aliases = Array.isArray(body.EndpointConfig?.Aliases) ? (body.EndpointConfig!.Aliases as unknown[]).filter((a): a is string => typeof a === 'string') : [];
  const ip = body.EndpointConfig?.IPAMConfig?.IPv4Address;
  await n.connect(net, container, { aliases, ...(typeof ip === 'string' && ip ? { ipv4Address: ip } : {}) });
  res.writeHead(200).end();
};

export const disconnectNetwork: Handler = async (ctx, req, res, [ref]) => {
  const body = await endpointBody(req);
  const n = nets(ctx);
  const net = await n.find(decodeURIComponent(ref!));
  await n.disconnect(net, await ctx.engine.findContainer(body.Container));
  res.writeHead(200).end();
};
