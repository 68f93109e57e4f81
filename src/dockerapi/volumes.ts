/** /volumes/... of the Docker Engine API, over Volume objects. */
import type { KObject } from '../client/api-client.js';
import { ANNOTATION_ANONYMOUS_FOR, checkDockerName, dockerLabelsOf, dockerMetadata, dockerNameOf, objectNameFor } from '../client/docker/names.js';
import { labelMatch, parseFiltersJson } from '../client/docker/filters.js';
import { API_VERSION } from '../client/docker/to-container.js';
import { volumeInspect } from '../client/docker/views.js';
import { watchUntil } from '../client/docker/watch-until.js';
import type { Handler } from './containers.js';
import type { FrontContext } from './context.js';
import { boolParam, HttpError, readJson, sendJson } from './http.js';

const usersOf = (containers: KObject[], name: string) => containers.filter((c) => ((c.spec ?? {}) as { volumeMounts?: { name?: string }[] }).volumeMounts?.some((m) => m.name === name)).map((c) => c.metadata.name);

async function findVolume(ctx: FrontContext, ref: string): Promise<KObject> {
  const direct = await ctx.engine.volumes.getIfExists(ctx.namespace, objectNameFor(ref));
  if (direct && (dockerNameOf(direct) === ref || direct.metadata.name === ref)) return direct;
  const v = (await ctx.engine.volumes.listAll({ namespace: ctx.namespace })).items.find((x) => dockerNameOf(x) === ref || x.metadata.name === ref);
  if (!v) throw new HttpError(404, `get ${ref}: no such volume`);
  return v;
}

export const listVolumes: Handler = async (ctx, _req, res, _p, q) => {
  const f = parseFiltersJson(q.get('filters'));
  const containers = await ctx.engine.listContainers();
  let vols = (await ctx.engine.volumes.listAll({ namespace: ctx.namespace })).items;
  for (const [k, values] of Object.entries(f)) {
    vols = vols.filter((v) =>
      values[k === 'label' ? 'every' : 'some']((val) => {
        if (k === 'dangling') return (usersOf(containers, v.metadata.name).length === 0) === (val === 'true' || val === '1');
        if (k === 'name') return dockerNameOf(v).includes(val);
        if (k === 'driver') return val === 'local';
        if (k === 'label') return labelMatch(dockerLabelsOf(v), val);
        throw new HttpError(400, `invalid filter '${k}'`);
      }),
    );
  }
  sendJson(res, 200, { Volumes: vols.map((v) => volumeInspect(v, usersOf(containers, v.metadata.name))), Warnings: [] });
};

export const createVolume: Handler = async (ctx, req, res) => {
  const body = ((await readJson(req)) ?? {}) as { Name?: unknown; Driver?: unknown; DriverOpts?: unknown; Labels?: unknown };
  if (body.Driver !== undefined && body.Driver !== '' && body.Driver !== 'local') throw new HttpError(404, `error looking up volume plugin ${String(body.Driver)}: plugin "${String(body.Driver)}" not found`);
  if (body.Name !== undefined && typeof body.Name !== 'string') throw new HttpError(400, 'Name: must be a string');
  const dockerName = body.Name ? checkDockerName(body.Name, 'volume') : `anon-${Date.now().toString(16)}${Math.random().toString(16).slice(2, 8)}`;
  const name = objectNameFor(dockerName);
  const existing = await ctx.engine.volumes.getIfExists(ctx.namespace, name);
  if (existing) return sendJson(res, 201, volumeInspect(existing));
  const labels = body.Labels && typeof body.Labels === 'object' ? (body.Labels as Record<string, string>) : {};
  const driverOpts = body.DriverOpts && typeof body.DriverOpts === 'object' ? (body.DriverOpts as Record<string, string>) : {};
  const created = await ctx.engine.volumes.create(ctx.namespace, {
    apiVersion: API_VERSION,
    kind: 'Volume',
    metadata: dockerMetadata({ name, dockerName, labels, createdBy: 'docker-api', ...(body.Name ? {} : { extraAnnotations: { [ANNOTATION_ANONYMOUS_FOR]: '' } }) }),
    spec: { driver: 'local', nodeName: ctx.nodeName, ...(Object.keys(driverOpts).length ? { driverOpts } : {}) },
  });
  sendJson(res, 201, volumeInspect(created));
};

export const inspectVolume: Handler = async (ctx, _req, res, [ref]) => {
  const v = await findVolume(ctx, ref!);
  sendJson(res, 200, volumeInspect(v, usersOf(await ctx.engine.listContainers(), v.metadata.name)));
};

async function removeVolume(ctx: FrontContext, v: KObject): Promise<void> {
  const users = usersOf(await ctx.engine.listContainers(), v.metadata.name);
  if (users.length) throw new HttpError(409, `remove ${dockerNameOf(v)}: volume is in use - [${users.join(', ')}]`);
  await ctx.engine.volumes.delete(ctx.namespace, v.metadata.name).catch(() => undefined);
  await watchUntil(ctx.engine.volumes, ctx.namespace, v.metadata.name, (o) => (!o || o.metadata.uid !== v.metadata.uid ? true : undefined), { timeoutMs: 60_000 }).catch(() => undefined);
}

export const deleteVolume: Handler = async (ctx, _req, res, [ref], q) => {
  let v: KObject;
  try {
    v = await findVolume(ctx, ref!);
  } catch (e) {
    if (boolParam(q, 'force') && e instanceof HttpError && e.status === 404) return void res.writeHead(204).end();
    throw e;
  }
  await removeVolume(ctx, v);
  res.writeHead(204).end();
};

export const pruneVolumes: Handler = async (ctx, _req, res, _p, q) => {
  const f = parseFiltersJson(q.get('filters'));
  const all = (f.all ?? []).some((v) => v === 'true' || v === '1');
  const containers = await ctx.engine.listContainers();
  const deleted: string[] = [];
  let reclaimed = 0;
  for (const v of (await ctx.engine.volumes.listAll({ namespace: ctx.namespace })).items) {
    const anonymous = v.metadata.annotations?.[ANNOTATION_ANONYMOUS_FOR] !== undefined;
    if ((!all && !anonymous) || usersOf(containers, v.metadata.name).length) continue;
    await removeVolume(ctx, v);
    deleted.push(dockerNameOf(v));
    reclaimed += (v.status as { size?: number } | undefined)?.size ?? 0;
  }
  sendJson(res, 200, { VolumesDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed });
};
