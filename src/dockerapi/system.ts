/** /_ping, /version, /info, /events and /system/df of the Docker Engine API. */
import os from 'node:os';
import type { KObject } from '../client/api-client.js';
import { ContainerType, NodeType, VolumeType } from '../client/kinds.js';
import { diskUsage, eventMatches, EventTranslator, systemInfo, type NodeDf } from '../client/docker/system.js';
import { parseFiltersJson } from '../client/docker/filters.js';
import { BERTH_VERSION } from '../util/version.js';
import type { Handler } from './containers.js';
import { HttpError, sendJson } from './http.js';
import { nodeRequest, readNodeJson } from './node-forward.js';

export const MIN_API_VERSION = '1.41';
export const MAX_API_VERSION = '1.50';
/** The Docker version this endpoint's API matches (1.50 is Docker 28.2). */
export const DOCKER_COMPAT_VERSION = '28.2.0';

export const version: Handler = async (ctx, _req, res) => {
  const kernel = os.release();
  sendJson(res, 200, {
    Platform: { Name: `Berth ${BERTH_VERSION}` },
    Components: [{ Name: 'Engine', Version: DOCKER_COMPAT_VERSION, Details: { ApiVersion: MAX_API_VERSION, MinAPIVersion: MIN_API_VERSION, GitCommit: `berth-${BERTH_VERSION}`, GoVersion: `node${process.versions.node}`, BuildTime: '', Experimental: 'false', Os: 'linux', Arch: process.arch === 'x64' ? 'amd64' : process.arch, KernelVersion: kernel, BerthVersion: BERTH_VERSION, Node: ctx.nodeName, Namespace: ctx.namespace } }],
    Version: DOCKER_COMPAT_VERSION,
    ApiVersion: MAX_API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: `berth-${BERTH_VERSION}`,
    GoVersion: `node${process.versions.node}`,
    Os: 'linux',
    Arch: process.arch === 'x64' ? 'amd64' : process.arch,
    KernelVersion: kernel,
    BuildTime: '',
  });
};

export const info: Handler = async (ctx, _req, res) => {
  const [containers, node, images] = await Promise.all([
    ctx.engine.listContainers(),
    ctx.client.resource(NodeType).get(undefined, ctx.nodeName),
    readNodeJson<unknown[]>(await nodeRequest(ctx, 'GET', '/images/json', new URLSearchParams())).catch(() => []),
  ]);
  sendJson(res, 200, systemInfo(containers, images.length, { name: node.metadata.name, ...(node.status as object) }, { serverVersion: DOCKER_COMPAT_VERSION, namespace: ctx.namespace }));
};

export const systemDf: Handler = async (ctx, _req, res) => {
  const [containers, volumes, node] = await Promise.all([ctx.engine.listContainers(), ctx.engine.volumes.listAll({ namespace: ctx.namespace }), readNodeJson<NodeDf>(await nodeRequest(ctx, 'GET', '/system/df', new URLSearchParams()))]);
  sendJson(res, 200, diskUsage(containers, volumes.items, node));
};

const eventTime = (v: string | null): number | undefined => {
  if (v === null || v === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new HttpError(400, `invalid time: ${v}`);
  return t;
};

/** GET /events: JSON messages from watches of Containers and Volumes; since replays, until ends the stream. */
export const events: Handler = async (ctx, req, res, _p, q) => {
  const since = eventTime(q.get('since'));
  const until = eventTime(q.get('until'));
  const filters = parseFiltersJson(q.get('filters'));
  const tr = new EventTranslator();
  const containers = ctx.client.resource(ContainerType);
  const volumes = ctx.client.resource(VolumeType);
  const [cl, vl] = await Promise.all([containers.list({ namespace: ctx.namespace }), volumes.list({ namespace: ctx.namespace })]);
  res.writeHead(200, { 'content-type': 'application/json' });
  res.flushHeaders();
  const send = (e: ReturnType<EventTranslator['change']>[number]) => {
    const ms = e.timeNano / 1e6;
    if (since !== undefined && ms < since) return;
    if (until !== undefined && ms > until) return;
    if (eventMatches(e, filters)) res.write(`${JSON.stringify(e)}\n`);
  };
  const past = tr.past([...cl.items.map((c) => ({ ...c, kind: 'Container' })), ...vl.items.map((v) => ({ ...v, kind: 'Volume' }))] as KObject[]);
  if (since !== undefined) for (const e of past) send(e);
  if (until !== undefined && until <= Date.now()) return void res.end();
  const handles = await Promise.all(
    ([
      [containers, 'Container', cl.metadata.resourceVersion],
      [volumes, 'Volume', vl.metadata.resourceVersion],
    ] as const).map(([rc, kind, rv]) =>
      rc.watch({ namespace: ctx.namespace, ...(rv ? { resourceVersion: rv } : {}) }, (type, obj) => {
        if (type === 'BOOKMARK' || type === 'ERROR') return;
        for (const e of tr.change(type, { ...obj, kind })) send(e);
      }, () => res.end()),
    ),
  );
  const stop = () => {
    for (const h of handles) h.stop();
    res.end();
  };
  const timer = until !== undefined ? setTimeout(stop, until - Date.now()) : undefined;
  await new Promise<void>((resolve) => res.once('close', () => {
    if (timer) clearTimeout(timer);
    for (const h of handles) h.stop();
    resolve();
  }));
  void req;
};
