/**
 * A Docker Engine API endpoint on a unix socket (`berth server|agent --docker-socket PATH`), so the
 * docker CLI, dockerode, docker-py, docker-compose and Testcontainers drive a Berth node unchanged.
 * API versions 1.41 to 1.50, under /v1.NN/ and unversioned paths; every call maps to Berth objects
 * through the API client this front was given (its identity is the one whoever may open the socket
 * gets: the socket is mode 0660, its group settable), and nothing here writes a runtime. Endpoints
 * Docker has and Berth does not answer 501 naming what is missing; unknown paths 404.
 */
import { chmod, chown, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Duplex } from 'node:stream';
import type { ApiClient } from '../client/api-client.js';
import { DockerEngine } from '../client/docker/engine.js';
import { rawRequest, readAll, type RawConnection } from '../client/raw-request.js';
import { containerSubresourcePath } from '../client/subresource.js';
import { AutoRemover } from './auto-remove.js';
import * as ctr from './containers.js';
import type { FrontContext } from './context.js';
import * as exec from './exec.js';
import { errorAnswer, HttpError, sendError } from './http.js';
import { nodeRequest, readNodeJson } from './node-forward.js';
import * as img from './images.js';
import { acceptHijack, MULTIPLEXED_STREAM, RAW_STREAM } from './streams.js';
import * as sys from './system.js';
import { DOCKER_COMPAT_VERSION, MAX_API_VERSION, MIN_API_VERSION } from './system.js';
import * as net from './networks.js';
import * as vol from './volumes.js';

export interface DockerApiOptions {
  client: ApiClient;
  /** The API server, its TLS settings and credentials (streams, subresources, the node image API). */
  conn: RawConnection;
  socketPath: string;
  /** The node whose containers, volumes and images this endpoint serves. */
  nodeName: string;
  namespace?: string;
  /** Group owning the socket (name or gid); the mode is 0660. */
  group?: string;
  log?: (msg: string) => void;
}

interface Route {
  method: string;
  pattern: RegExp;
  handler?: ctr.Handler;
  hijack?: ctr.HijackHandler;
}

const ID = '([^/]+)';
const NAME = '(.+)';
const r = (method: string, path: string, handler: ctr.Handler): Route => ({ method, pattern: new RegExp(`^${path}$`), handler });
const h = (method: string, path: string, hijack: ctr.HijackHandler): Route => ({ method, pattern: new RegExp(`^${path}$`), hijack });
const unsupported = (what: string): ctr.Handler => async (_c, req) => {
  req.resume();
  throw new HttpError(501, `${what} is not supported by Berth`);
};

const ROUTES: Route[] = [
  r('GET', '/version', sys.version),
  r('GET', '/info', sys.info),
  r('GET', '/events', sys.events),
  r('GET', '/system/df', sys.systemDf),
  r('POST', '/auth', img.auth),
  r('GET', '/containers/json', ctr.listContainers),
  r('POST', '/containers/create', ctr.createContainer),
  r('POST', '/containers/prune', ctr.pruneContainers),
  r('GET', `/containers/${ID}/json`, ctr.inspectContainer),
  r('GET', `/containers/${ID}/top`, ctr.topContainer),
  r('GET', `/containers/${ID}/logs`, ctr.containerLogs),
  r('GET', `/containers/${ID}/changes`, ctr.containerChanges),
  r('GET', `/containers/${ID}/export`, ctr.exportContainer),
  r('GET', `/containers/${ID}/stats`, ctr.containerStats),
  r('POST', `/containers/${ID}/resize`, ctr.resizeContainer),
  r('POST', `/containers/${ID}/start`, ctr.startContainer),
  r('POST', `/containers/${ID}/stop`, ctr.stopContainer),
  r('POST', `/containers/${ID}/restart`, ctr.restartContainer),
  r('POST', `/containers/${ID}/kill`, ctr.killContainer),
  r('POST', `/containers/${ID}/pause`, ctr.pauseContainer),
  r('POST', `/containers/${ID}/unpause`, ctr.unpauseContainer),
  r('POST', `/containers/${ID}/rename`, ctr.renameContainer),
  r('POST', `/containers/${ID}/update`, ctr.updateContainer),
  r('POST', `/containers/${ID}/wait`, ctr.waitContainer),
  h('POST', `/containers/${ID}/attach`, ctr.attachContainer),
  r('GET', `/containers/${ID}/attach/ws`, unsupported('attach over WebSocket (/containers/{id}/attach/ws)')),
  r('HEAD', `/containers/${ID}/archive`, ctr.archiveHead),
  r('GET', `/containers/${ID}/archive`, ctr.archiveGet),
  r('PUT', `/containers/${ID}/archive`, ctr.archivePut),
  r('POST', `/containers/${ID}/exec`, exec.createExec),
  r('DELETE', `/containers/${ID}`, ctr.deleteContainer),
  h('POST', `/exec/${ID}/start`, exec.startExec),
  r('POST', `/exec/${ID}/resize`, exec.resizeExec),
  r('GET', `/exec/${ID}/json`, exec.inspectExec),
  r('GET', '/images/json', img.listImages),
  r('POST', '/images/create', img.createImage),
  r('POST', '/images/load', img.loadImages),
  r('GET', '/images/get', img.saveImages),
  r('GET', '/images/search', img.searchImages),
  r('POST', '/images/prune', img.pruneImages),
  r('GET', `/images/${NAME}/json`, img.inspectImage),
  r('GET', `/images/${NAME}/history`, img.imageHistory),
  r('GET', `/images/${NAME}/get`, img.saveImage),
  r('POST', `/images/${NAME}/tag`, img.tagImage),
  r('POST', `/images/${NAME}/push`, img.pushImage),
  r('DELETE', `/images/${NAME}`, img.removeImage),
  r('POST', '/build', img.build),
  r('POST', '/build/prune', unsupported('build cache prune through the Docker API (berth system prune prunes images)')),
  r('POST', '/commit', img.commit),
  r('GET', '/volumes', vol.listVolumes),
  r('POST', '/volumes/create', vol.createVolume),
  r('POST', '/volumes/prune', vol.pruneVolumes),
  r('GET', `/volumes/${NAME}`, vol.inspectVolume),
  r('DELETE', `/volumes/${NAME}`, vol.deleteVolume),
  r('GET', '/networks', net.listNetworks),
  r('POST', '/networks/create', net.createNetwork),
  r('POST', '/networks/prune', net.pruneNetworks),
  r('GET', `/networks/${ID}`, net.inspectNetwork),
  r('DELETE', `/networks/${ID}`, net.deleteNetwork),
  r('POST', `/networks/${ID}/connect`, net.connectNetwork),
  r('POST', `/networks/${ID}/disconnect`, net.disconnectNetwork),
];

/** Docker endpoints Berth does not serve: 501 naming them (any method). */
const UNSUPPORTED: Array<[RegExp, string]> = [
  [/^\/swarm(\/|$)/, 'swarm mode (/swarm)'],
  [/^\/services(\/|$)/, 'swarm services (/services)'],
  [/^\/tasks(\/|$)/, 'swarm tasks (/tasks)'],
  [/^\/nodes(\/|$)/, 'swarm nodes (/nodes): Berth nodes are Node objects of its API'],
  [/^\/secrets(\/|$)/, 'swarm secrets (/secrets): use Secret objects of the Berth API'],
  [/^\/configs(\/|$)/, 'swarm configs (/configs)'],
  [/^\/plugins(\/|$)/, 'plugins (/plugins)'],
  [/^\/distribution(\/|$)/, 'distribution inspect (/distribution)'],
  [/^\/session$/, 'BuildKit sessions (/session): Berth builds with the legacy builder (Builder-Version 1)'],
  [/^\/grpc$/, 'gRPC (/grpc)'],
  [/^\/containers\/[^/]+\/checkpoints(\/|$)/, 'checkpoints'],
];

function versionOf(path: string): { version: string | undefined; rest: string } {
  const m = /^\/v(\d+\.\d+)(\/.*)$/.exec(path);
  return m ? { version: m[1], rest: m[2]! } : { version: undefined, rest: path };
}

const cmpVersion = (a: string, b: string): number => {
  const [a1, a2] = a.split('.').map(Number) as [number, number];
  const [b1, b2] = b.split('.').map(Number) as [number, number];
  return a1 - b1 || a2 - b2;
};

/** Docker's refusal of a version it does not speak. */
export function checkVersion(v: string | undefined): void {
  if (v === undefined) return;
  if (cmpVersion(v, MIN_API_VERSION) < 0) throw new HttpError(400, `client version ${v} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
  if (cmpVersion(v, MAX_API_VERSION) > 0) throw new HttpError(400, `client version ${v} is too new. Maximum supported API version is ${MAX_API_VERSION}`);
}

function commonHeaders(res: { setHeader(k: string, v: string): void }): void {
  res.setHeader('Api-Version', MAX_API_VERSION);
  res.setHeader('Docker-Experimental', 'false');
  res.setHeader('Ostype', 'linux');
  res.setHeader('Server', `Docker/${DOCKER_COMPAT_VERSION} (linux) Berth`);
}

/** Reads a hijacked request's body (exec start's JSON) from what came with the upgrade and the socket. */
async function readUpgradeBody(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<Buffer> {
  const length = Number(req.headers['content-length'] ?? '0');
  if (!Number.isFinite(length) || length <= 0) return Buffer.alloc(0);
  if (length > 64 * 1024) throw new HttpError(413, `request body of ${length} bytes is larger than the 65536 bytes allowed`);
  let body = head;
  while (body.length < length) {
    const chunk = await new Promise<Buffer | null>((resolve) => {
      const onData = (d: Buffer) => {
        cleanup();
        resolve(d);
      };
      const onEnd = () => {
        cleanup();
        resolve(null);
      };
      const cleanup = () => socket.off('data', onData).off('end', onEnd).off('close', onEnd);
      socket.once('data', onData).once('end', onEnd).once('close', onEnd);
    });
    if (!chunk) break;
    body = Buffer.concat([body, chunk]);
  }
  const extra = body.subarray(length);
  if (extra.length) socket.unshift(extra);
  return body.subarray(0, length);
}

function rawError(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ message });
  socket.end(`HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : status === 400 ? 'Bad Request' : status === 409 ? 'Conflict' : 'Error'}\r\nContent-Type: application/json\r\nApi-Version: ${MAX_API_VERSION}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

export class DockerApiServer {
  private server: Server | undefined;
  private readonly ctx: FrontContext;
  private readonly remover: AutoRemover;
  private readonly sockets = new Set<Duplex>();

  constructor(private readonly o: DockerApiOptions) {
    const namespace = o.namespace ?? 'default';
    const log = o.log ?? ((m: string) => console.error(`berth docker-api: ${m}`));
    this.ctx = {
      engine: new DockerEngine({
        client: o.client,
        namespace,
        createdBy: 'docker-api',
        nodeName: o.nodeName,
        kill: async (c, signal) => void (await readAll(await rawRequest(o.conn, 'POST', containerSubresourcePath(namespace, c.metadata.name, 'kill'), { signal }))),
        ...(process.env.BERTH_DOCKER_API_TRACE === '1' ? { trace: log } : {}),
        imageExposedPorts: async (ref) => (await readNodeJson<{ Config?: { ExposedPorts?: Record<string, unknown> | null } }>(await nodeRequest(this.ctx, 'GET', `/images/${encodeURIComponent(ref)}/json`, new URLSearchParams()))).Config?.ExposedPorts ?? undefined,
      }),
      client: o.client,
      conn: o.conn,
      namespace,
      nodeName: o.nodeName,
      execs: new Map(),
      attaches: new Map(),
      log,
    };
    this.remover = new AutoRemover(o.client, namespace, log);
  }

  private route(method: string, path: string): { route: Route; params: string[] } | undefined {
    for (const route of ROUTES) {
      const m = route.pattern.exec(path);
      if (m && (route.method === method || (method === 'HEAD' && route.method === 'GET' && !ROUTES.some((x) => x.method === 'HEAD' && x.pattern.test(path))))) {
        return { route, params: m.slice(1).map((p) => decodeURIComponent(p)) };
      }
    }
    return undefined;
  }

  private resolve(req: IncomingMessage): { route: Route; params: string[]; q: URLSearchParams } {
    const url = new URL(req.url ?? '/', 'http://docker');
    const { version, rest } = versionOf(url.pathname);
    checkVersion(version);
    const method = req.method ?? 'GET';
    const found = this.route(method, rest);
    if (found) return { ...found, q: url.searchParams };
    for (const [re, what] of UNSUPPORTED) if (re.test(rest)) throw new HttpError(501, `${what} is not supported by Berth`);
    if (ROUTES.some((x) => x.pattern.test(rest))) throw new HttpError(405, `${method} ${rest}: method not allowed`);
    throw new HttpError(404, `page not found: ${method} ${rest} is not part of the Docker Engine API that Berth serves`);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    commonHeaders(res);
    const url = new URL(req.url ?? '/', 'http://docker');
    const { version, rest } = versionOf(url.pathname);
    if (rest === '/_ping') {
      checkVersion(version);
      res.setHeader('Builder-Version', '1');
      res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate');
      res.setHeader('Pragma', 'no-cache');
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': '2' });
      res.end(req.method === 'HEAD' ? undefined : 'OK');
      return;
    }
    const { route, params, q } = this.resolve(req);
    if (route.handler) return route.handler(this.ctx, req, res, params, q);
    // a hijack endpoint asked without an upgrade: the stream goes in the response body
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const io: ctr.Hijack = {
      body: Buffer.concat(chunks),
      accept: (tty) => {
        res.writeHead(200, { 'content-type': tty ? RAW_STREAM : MULTIPLEXED_STREAM });
        res.flushHeaders();
        return Duplex.from({ readable: req, writable: res });
      },
    };
    await route.hijack!(this.ctx, req, io, params, q);
  }

  private async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const { route, params, q } = this.resolve(req);
    if (!route.hijack) throw new HttpError(400, `${req.method} ${new URL(req.url ?? '/', 'http://docker').pathname} does not take an upgrade`);
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'tcp') throw new HttpError(400, `Upgrade: only tcp is supported (got "${req.headers.upgrade}")`);
    const body = await readUpgradeBody(req, socket, head);
    let accepted = false;
    const io: ctr.Hijack = {
      body,
      accept: (tty) => {
        accepted = true;
        acceptHijack(socket, { upgraded: true, tty });
        return socket;
      },
    };
    try {
      await route.hijack(this.ctx, req, io, params, q);
    } catch (e) {
      if (accepted) {
        socket.destroy();
        return;
      }
      throw e;
    }
  }

  async start(): Promise<void> {
    await rm(this.o.socketPath, { force: true });
    const trace = process.env.BERTH_DOCKER_API_TRACE === '1';
    this.server = createServer((req, res) => {
      if (trace) {
        const t0 = performance.now();
        res.once('finish', () => this.ctx.log(`${req.method} ${req.url} ${res.statusCode} ${(performance.now() - t0).toFixed(1)} ms`));
      }
      this.handle(req, res).catch((e: unknown) => {
        const a = errorAnswer(e);
        if (a.status >= 500 && a.status !== 501) this.ctx.log(`${req.method} ${req.url}: ${a.message}`);
        sendError(res, e);
      });
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (trace) {
        const t0 = performance.now();
        socket.once('close', () => this.ctx.log(`${req.method} ${req.url} upgraded ${(performance.now() - t0).toFixed(1)} ms`));
      }
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
      this.handleUpgrade(req, socket, head).catch((e: unknown) => {
        const a = errorAnswer(e);
        if (a.status >= 500 && a.status !== 501) this.ctx.log(`${req.method} ${req.url}: ${a.message}`);
        if (!socket.destroyed) rawError(socket, a.status, a.message);
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.o.socketPath, () => resolve());
    });
    await chmod(this.o.socketPath, 0o660);
    if (this.o.group !== undefined) await chown(this.o.socketPath, process.getuid?.() ?? 0, await gidOf(this.o.group));
    await this.remover.start();
  }

  async stop(): Promise<void> {
    this.remover.stop();
    for (const s of this.sockets) s.destroy();
    for (const e of this.ctx.execs.values()) e.stream?.close();
    if (this.server) {
      this.server.closeAllConnections();
      await new Promise<void>((r) => this.server!.close(() => r()));
    }
    await rm(this.o.socketPath, { force: true });
  }
}

/** A group name (from /etc/group) or number. */
export async function gidOf(group: string): Promise<number> {
  if (/^\d+$/.test(group)) return Number(group);
  const { readFile } = await import('node:fs/promises');
  const line = (await readFile('/etc/group', 'utf8')).split('\n').find((l) => l.split(':')[0] === group);
  const gid = line?.split(':')[2];
  if (gid === undefined) throw new Error(`--docker-socket-group: no group "${group}" in /etc/group`);
  return Number(gid);
}
