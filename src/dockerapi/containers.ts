/**
 * /containers/... of the Docker Engine API, each a write or a read of Container objects through
 * the Berth API (the engine in src/client/docker) or a Container subresource (attach, exec, log,
 * top, stats, archive, changes, export, kill): create, list, inspect, start, stop, restart, kill,
 * pause, unpause, wait, attach, resize, logs, top, stats, changes, export, archive, rename, prune,
 * delete, and exec create.
 */
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { attachQueryString } from '../api/exec-query.js';
import type { KObject } from '../client/api-client.js';
import { criLogRecords } from '../client/cri-log.js';
import { parseCreateBody } from '../client/docker/create-body.js';
import { isRunning, untilProcessEnded } from '../client/docker/engine.js';
import { filterContainers, parseFiltersJson } from '../client/docker/filters.js';
import { DockerError, dockerIdOf, dockerNameOf } from '../client/docker/names.js';
import { networkNames } from '../client/docker/networks.js';
import { openRemoteCommand } from '../client/docker/remote-command.js';
import { containerInspect, containerSummary, type ImageConfigView } from '../client/docker/views.js';
import { rawRequest, readAll } from '../client/raw-request.js';
import { containerSubresourcePath } from '../client/subresource.js';
import type { FrontContext } from './context.js';
import { boolParam, HttpError, intParam, readJson, sendJson } from './http.js';
import { nodeRequest, readNodeJson } from './node-forward.js';
import { bridge, frameHeader } from './streams.js';

export type Handler = (ctx: FrontContext, req: IncomingMessage, res: ServerResponse, params: string[], q: URLSearchParams) => Promise<void>;
/** A hijacked connection: `accept` answers the request (101 UPGRADED, or 200 without an upgrade) and gives the stream. */
export interface Hijack {
  accept(tty: boolean): Duplex;
  body: Buffer;
}
export type HijackHandler = (ctx: FrontContext, req: IncomingMessage, io: Hijack, params: string[], q: URLSearchParams) => Promise<void>;

const sub = (ctx: FrontContext, c: KObject, name: string) => containerSubresourcePath(ctx.namespace, c.metadata.name, name);

async function imageConfig(ctx: FrontContext, c: KObject): Promise<ImageConfigView | undefined> {
  const spec = (c.spec ?? {}) as { image?: string; nodeName?: string };
  if (!spec.image) return undefined;
  try {
    const up = await nodeRequest(ctx, 'GET', `/images/${encodeURIComponent(spec.image)}/json`, new URLSearchParams(), spec.nodeName ? { node: spec.nodeName } : {});
    return (await readNodeJson<{ Config?: ImageConfigView }>(up)).Config;
  } catch {
    return undefined;
  }
}

export const listContainers: Handler = async (ctx, _req, res, _p, q) => {
  const all = boolParam(q, 'all');
  const limit = intParam(q, 'limit');
  const size = boolParam(q, 'size');
  const filters = parseFiltersJson(q.get('filters'));
  const every = await ctx.engine.listContainers();
  let items = filterContainers(every, filters, every);
  if (!all && !filters.status && !filters.exited) items = items.filter(isRunning);
  items.sort((a, b) => (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? ''));
  if (limit !== undefined && limit > 0) items = items.slice(0, limit);
  const configs = new Map<string, Promise<ImageConfigView | undefined>>();
  const names = ctx.engine.networks.listAll({ namespace: ctx.namespace }).then((l) => networkNames(l.items));
  const out = await Promise.all(
    items.map(async (c) => {
      const image = String((c.spec as { image?: string } | undefined)?.image ?? '');
      let p = configs.get(image);
      if (!p) configs.set(image, (p = imageConfig(ctx, c)));
      return containerSummary(c, { image: await p, size, networks: await names });
    }),
  );
  sendJson(res, 200, out);
};

export const createContainer: Handler = async (ctx, req, res, _p, q) => {
  const raw = await readJson(req);
  if (raw === undefined || typeof raw !== 'object' || Array.isArray(raw)) throw new HttpError(400, 'config cannot be empty in order to create a container');
  let body;
  try {
    body = parseCreateBody(raw);
  } catch (e) {
    throw new HttpError(400, (e as Error).message);
  }
  const name = q.get('name') || undefined;
  const c = await ctx.engine.create(body, { ...(name ? { name } : {}) });
  sendJson(res, 201, { Id: dockerIdOf(c), Warnings: [] });
};

export const inspectContainer: Handler = async (ctx, _req, res, [ref]) => {
  const c = await ctx.engine.findContainer(ref!);
  const mountpoints: Record<string, string> = {};
  for (const v of (await ctx.engine.volumes.listAll({ namespace: ctx.namespace })).items) {
    const mp = (v.status as { mountpoint?: string } | undefined)?.mountpoint;
    if (mp) mountpoints[v.metadata.name] = mp;
  }
  const execIds = [...ctx.execs.values()].filter((e) => e.container === c.metadata.name).map((e) => e.ID);
  const networks = networkNames((await ctx.engine.networks.listAll({ namespace: ctx.namespace })).items);
  const doc = containerInspect(c, { image: await imageConfig(ctx, c), volumeMountpoints: mountpoints, networks });
  sendJson(res, 200, { ...doc, ExecIDs: execIds.length ? execIds : null });
};

export const startContainer: Handler = async (ctx, _req, res, [ref]) => {
  const c = await ctx.engine.findContainer(ref!);
  const r = await ctx.engine.start(c);
  if (r === 'already') {
    res.writeHead(304).end();
    return;
  }
  res.writeHead(204).end();
};

export const stopContainer: Handler = async (ctx, _req, res, [ref], q) => {
  const c = await ctx.engine.findContainer(ref!);
  const r = await ctx.engine.stop(c, intParam(q, 't'));
  res.writeHead(r === 'already' ? 304 : 204).end();
};

export const restartContainer: Handler = async (ctx, _req, res, [ref], q) => {
  await ctx.engine.restart(await ctx.engine.findContainer(ref!), intParam(q, 't'));
  res.writeHead(204).end();
};

export const killContainer: Handler = async (ctx, _req, res, [ref], q) => {
  const c = await ctx.engine.findContainer(ref!);
  const signal = (q.get('signal') || 'KILL').toUpperCase();
  if (!/^((SIG)?[A-Z][A-Z0-9+-]*|[0-9]{1,2})$/.test(signal)) throw new HttpError(400, `Invalid signal: ${q.get('signal')}`);
  if (!isRunning(c)) throw new HttpError(409, `Cannot kill container: ${ref}: Container ${dockerIdOf(c)} is not running`);
  await readAll(await rawRequest(ctx.conn, 'POST', sub(ctx, c, 'kill'), { signal }));
  res.writeHead(204).end();
};

export const pauseContainer: Handler = async (ctx, _req, res, [ref]) => {
  await ctx.engine.pause(await ctx.engine.findContainer(ref!));
  res.writeHead(204).end();
};

export const unpauseContainer: Handler = async (ctx, _req, res, [ref]) => {
  await ctx.engine.unpause(await ctx.engine.findContainer(ref!));
  res.writeHead(204).end();
};

export const renameContainer: Handler = async (ctx, _req, res, [ref], q) => {
  const name = q.get('name');
  if (!name) throw new HttpError(400, 'name: a new name is required');
  await ctx.engine.rename(await ctx.engine.findContainer(ref!), name);
  res.writeHead(204).end();
};

export const deleteContainer: Handler = async (ctx, _req, res, [ref], q) => {
  const c = await ctx.engine.findContainer(ref!);
  await ctx.engine.remove(c, { force: boolParam(q, 'force'), volumes: boolParam(q, 'v') });
  res.writeHead(204).end();
};

/** POST /containers/ID/wait?condition=: the headers at once (the wait is armed), the result when it comes. */
export const waitContainer: Handler = async (ctx, req, res, [ref], q) => {
  const condition = q.get('condition') || 'not-running';
  if (!['not-running', 'next-exit', 'removed'].includes(condition)) throw new HttpError(400, `invalid condition: "${condition}"`);
  const c = await ctx.engine.findContainer(ref!);
  const abort = new AbortController();
  res.on('close', () => abort.abort());
  const result = ctx.engine.wait(c, condition as 'not-running' | 'next-exit' | 'removed', {
    signal: abort.signal,
    ready: () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
    },
  });
  try {
    const r = await result;
    res.end(JSON.stringify({ StatusCode: r.StatusCode, Error: r.Error ?? null }));
  } catch (e) {
    if (!abort.signal.aborted) res.end(JSON.stringify({ StatusCode: -1, Error: { Message: (e as Error).message } }));
  }
  void req;
};

export const resizeContainer: Handler = async (ctx, _req, res, [ref], q) => {
  const c = await ctx.engine.findContainer(ref!);
  const h = intParam(q, 'h');
  const w = intParam(q, 'w');
  if (h === undefined || w === undefined || h < 0 || w < 0) throw new HttpError(400, 'h and w: the height and width are required');
  for (const rc of ctx.attaches.get(c.metadata.name) ?? []) rc.resize(w, h);
  res.writeHead(200).end();
};

/** POST /containers/ID/attach (hijacked): the attach subresource, registered on the node before the 101 goes out. */
export const attachContainer: HijackHandler = async (ctx, _req, io, [ref], q) => {
  const c = await ctx.engine.findContainer(ref!);
  const spec = (c.spec ?? {}) as { tty?: boolean; stdin?: boolean };
  const tty = spec.tty === true;
  const stream = boolParam(q, 'stream', false) || !boolParam(q, 'logs', false);
  const wantStdin = boolParam(q, 'stdin') && spec.stdin === true;
  const stdout = boolParam(q, 'stdout');
  const stderr = boolParam(q, 'stderr');
  if (!stream) throw new HttpError(400, 'attach with logs only (stream=0) is not supported by Berth: use the logs endpoint');
  const rc = await openRemoteCommand(ctx.conn, containerSubresourcePath(ctx.namespace, c.metadata.name, 'attach'), attachQueryString({ stdin: wantStdin, stdout: stdout || !stderr, stderr: !tty && stderr, tty }));
  let set = ctx.attaches.get(c.metadata.name);
  if (!set) ctx.attaches.set(c.metadata.name, (set = new Set()));
  set.add(rc);
  const socket = io.accept(tty);
  try {
    await bridge(socket, rc, { tty, stdin: wantStdin, stdout, stderr });
  } finally {
    set.delete(rc);
    if (set.size === 0) ctx.attaches.delete(c.metadata.name);
  }
};

/**
 * GET /containers/ID/logs: the log subresource in the CRI format (`format=cri`), each line framed on its own
 * stream (1 stdout, 2 stderr) as dockerd's multiplexed stream has it, or raw when the container has a tty.
 * --tail counts the lines of both streams, then the ones asked for are kept, as dockerd does.
 */
export const containerLogs: Handler = async (ctx, req, res, [ref], q) => {
  const c = await ctx.engine.findContainer(ref!);
  const stdout = boolParam(q, 'stdout');
  const stderr = boolParam(q, 'stderr');
  if (!stdout && !stderr) throw new HttpError(400, 'Bad parameters: you must choose at least one stream');
  // tail: a count, or all (also a negative count, as dockerd takes it: Testcontainers sends -1)
  const tail = q.get('tail');
  if (tail !== null && tail !== 'all' && tail !== '' && !/^-?\d+$/.test(tail)) throw new HttpError(400, `invalid value for tail: "${tail}"`);
  const tailLines = tail !== null && /^\d+$/.test(tail) ? tail : undefined;
  // since: UNIX seconds, with a fraction (dockerd's "seconds.nanoseconds"; Testcontainers sends milliseconds' worth)
  const sinceText = q.get('since');
  if (sinceText !== null && sinceText !== '' && !/^\d+(\.\d+)?$/.test(sinceText)) throw new HttpError(400, `invalid value for since: "${sinceText}" is not a UNIX time in seconds`);
  const since = sinceText ? Number(sinceText) : 0;
  const timestamps = boolParam(q, 'timestamps');
  const up = await rawRequest(ctx.conn, 'GET', sub(ctx, c, 'log'), {
    format: 'cri',
    follow: boolParam(q, 'follow') ? true : undefined,
    tailLines,
    sinceTime: since > 0 ? new Date(since * 1000).toISOString() : undefined,
  });
  const tty = (c.spec as { tty?: boolean } | undefined)?.tty === true;
  res.writeHead(200, { 'content-type': tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream' });
  res.flushHeaders();
  let clientGone = false;
  res.on('close', () => {
    clientGone = true;
    up.destroy();
  });
  for await (const r of criLogRecords(up)) {
    // a tty has one stream (conmon logs it as stdout)
    if (!tty && !(r.stream === 'stderr' ? stderr : stdout)) continue;
    const line = Buffer.from(`${timestamps && r.time ? `${r.time} ` : ''}${r.text}\n`);
    if (!res.write(tty ? line : Buffer.concat([frameHeader(r.stream === 'stderr' ? 2 : 1, line.length), line])) && !clientGone) await Promise.race([once(res, 'drain'), once(res, 'close')]);
  }
  if (boolParam(q, 'follow') && !clientGone) await untilProcessEnded(ctx.engine.containers, c);
  res.end();
  void req;
};

export const topContainer: Handler = async (ctx, _req, res, [ref]) => {
  const c = await ctx.engine.findContainer(ref!);
  if (!isRunning(c)) throw new HttpError(409, `Container ${dockerIdOf(c)} is not running`);
  const r = JSON.parse(await readAll(await rawRequest(ctx.conn, 'GET', sub(ctx, c, 'top')))) as { processes: { pid: number; ppid: number; uid: number; state: string; cpuSeconds: number; command: string }[] };
  const time = (s: number) => `${String(Math.floor(s / 3600)).padStart(2, '0')}:${String(Math.floor(s / 60) % 60).padStart(2, '0')}:${String(Math.floor(s) % 60).padStart(2, '0')}`;
  sendJson(res, 200, { Titles: ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'], Processes: r.processes.map((p) => [String(p.uid), String(p.pid), String(p.ppid), '0', '', '?', time(p.cpuSeconds), p.command]) });
};

/** GET /containers/ID/stats: Docker's stats document from the stats subresource; stream=1 sends one a second. */
export const containerStats: Handler = async (ctx, _req, res, [ref], q) => {
  const c = await ctx.engine.findContainer(ref!);
  const stream = boolParam(q, 'stream', true) && !boolParam(q, 'one-shot');
  let prev: { cpu: number; at: number } | undefined;
  const once = async (): Promise<Record<string, unknown>> => {
    const now = new Date();
    let s = { cpuUsageNs: 0, memoryUsageBytes: 0, memoryLimitBytes: null as number | null, pids: 0 };
    if (isRunning(c)) s = JSON.parse(await readAll(await rawRequest(ctx.conn, 'GET', sub(ctx, c, 'stats')))) as typeof s;
    const system = Date.now() * 1e6 * 2;
    const doc = {
      read: now.toISOString(),
      preread: prev ? new Date(prev.at).toISOString() : '0001-01-01T00:00:00Z',
      pids_stats: { current: s.pids },
      cpu_stats: { cpu_usage: { total_usage: s.cpuUsageNs, usage_in_kernelmode: 0, usage_in_usermode: s.cpuUsageNs }, system_cpu_usage: system, online_cpus: 2, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } },
      precpu_stats: prev ? { cpu_usage: { total_usage: prev.cpu }, system_cpu_usage: prev.at * 1e6 * 2, online_cpus: 2 } : { cpu_usage: { total_usage: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } },
      memory_stats: { usage: s.memoryUsageBytes, limit: s.memoryLimitBytes ?? 0, stats: {} },
      name: `/${dockerNameOf(c)}`,
      id: dockerIdOf(c),
    };
    prev = { cpu: s.cpuUsageNs, at: Date.now() };
    return doc;
  };
  if (!stream) return sendJson(res, 200, await once());
  res.writeHead(200, { 'content-type': 'application/json' });
  let open = true;
  res.on('close', () => (open = false));
  while (open) {
    res.write(`${JSON.stringify(await once())}\n`);
    await new Promise((r) => setTimeout(r, 1000));
  }
};

export const containerChanges: Handler = async (ctx, _req, res, [ref]) => {
  const c = await ctx.engine.findContainer(ref!);
  const changes = JSON.parse(await readAll(await rawRequest(ctx.conn, 'GET', sub(ctx, c, 'changes')))) as unknown[];
  sendJson(res, 200, changes.length ? changes : null);
};

export const exportContainer: Handler = async (ctx, _req, res, [ref]) => {
  const c = await ctx.engine.findContainer(ref!);
  const up = await rawRequest(ctx.conn, 'GET', sub(ctx, c, 'export'));
  res.writeHead(200, { 'content-type': 'application/x-tar' });
  up.pipe(res);
  await new Promise<void>((resolve) => up.once('end', resolve).once('close', resolve));
};

/** The stat docker cp reads from X-Docker-Container-Path-Stat: from the first header of the archive of the path. */
async function pathStat(ctx: FrontContext, c: KObject, path: string): Promise<Record<string, unknown>> {
  const up = await rawRequest(ctx.conn, 'GET', sub(ctx, c, 'archive'), { path });
  let head = Buffer.alloc(0);
  for await (const chunk of up) {
    head = Buffer.concat([head, chunk as Buffer]);
    if (head.length >= 512) break;
  }
  up.destroy();
  if (head.length < 512) throw new DockerError(`Could not find the file ${path} in container ${c.metadata.name}`, 404);
  const str = (o: number, n: number) => head.subarray(o, o + n).toString('utf8').replace(/\0.*$/s, '');
  const num = (o: number, n: number) => parseInt(str(o, n).trim() || '0', 8);
  const type = str(156, 1);
  let mode = num(100, 8) & 0o7777;
  if (type === '5') mode |= 0x80000000; // Go's os.ModeDir
  if (type === '2') mode |= 0x08000000; // os.ModeSymlink
  return { name: path.split('/').filter(Boolean).pop() ?? '/', size: num(124, 12), mode: mode >>> 0, mtime: new Date(num(136, 12) * 1000).toISOString(), linkTarget: type === '2' ? str(157, 100) : '' };
}

export const archiveHead: Handler = async (ctx, _req, res, [ref], q) => {
  const path = q.get('path');
  if (!path?.startsWith('/')) throw new HttpError(400, 'path: must be an absolute path inside the container');
  const c = await ctx.engine.findContainer(ref!);
  const stat = await pathStat(ctx, c, path);
  res.writeHead(200, { 'x-docker-container-path-stat': Buffer.from(JSON.stringify(stat)).toString('base64'), 'content-type': 'application/x-tar' });
  res.end();
};

export const archiveGet: Handler = async (ctx, _req, res, [ref], q) => {
  const path = q.get('path');
  if (!path?.startsWith('/')) throw new HttpError(400, 'path: must be an absolute path inside the container');
  const c = await ctx.engine.findContainer(ref!);
  const stat = await pathStat(ctx, c, path);
  const up = await rawRequest(ctx.conn, 'GET', sub(ctx, c, 'archive'), { path });
  res.writeHead(200, { 'x-docker-container-path-stat': Buffer.from(JSON.stringify(stat)).toString('base64'), 'content-type': 'application/x-tar' });
  up.pipe(res);
  await new Promise<void>((resolve) => up.once('end', resolve).once('close', resolve));
};

export const archivePut: Handler = async (ctx, req, res, [ref], q) => {
  const path = q.get('path');
  if (!path?.startsWith('/')) throw new HttpError(400, 'path: must be an absolute path inside the container');
  const c = await ctx.engine.findContainer(ref!);
  await readAll(await rawRequest(ctx.conn, 'PUT', sub(ctx, c, 'archive'), { path }, req));
  res.writeHead(200).end();
};

export const pruneContainers: Handler = async (ctx, _req, res, _p, q) => {
  const filters = parseFiltersJson(q.get('filters'));
  const every = await ctx.engine.listContainers();
  const stopped = filterContainers(every.filter((c) => !isRunning(c) && !c.metadata.deletionTimestamp), Object.fromEntries(Object.entries(filters).filter(([k]) => k === 'label')), every);
  const deleted: string[] = [];
  let reclaimed = 0;
  for (const c of stopped) {
    await ctx.engine.remove(c, { force: true });
    deleted.push(dockerIdOf(c));
    reclaimed += (c.status as { sizeRw?: number } | undefined)?.sizeRw ?? 0;
  }
  sendJson(res, 200, { ContainersDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed });
};

export const updateContainer: Handler = async () => {
  throw new HttpError(501, 'container update is not supported by Berth: change the Container object (berth apply, kubectl edit) instead');
};
