/**
 * The agent's own HTTP endpoint, to which the API server proxies log, exec, top and stats
 * requests (kubelet's :10250) and, as nodes/NAME/proxy/PATH, the node image API (image-api.ts:
 * images, commit, system df, auth) and builds; exec is a WebSocket upgrade (exec-upgrade.ts), or
 * a POST that buffers stdin and output. HTTPS with this node's certificate from Berth's CA
 * (node-certificate.ts); a client must present a certificate from the same CA whose CN is the API
 * server's (system:berth-apiserver): without one the TLS handshake fails, with another CN the
 * answer is 403. Bound to 127.0.0.1 by default; the API server is the only client.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { metricsRegistry } from '../metrics/registry.js';
import { APISERVER_CLIENT_USER, type AgentTlsCredentials } from '../api/agent-tls.js';
import type { Distribution, Runtime } from '../runtime/index.js';
import { refuseUpgrade } from '../util/refuse-upgrade.js';
import { SIGNAL_RE } from '../api/exec-query.js';
import { execUpgradeHandler } from './exec-upgrade.js';
import { readJsonObject, send, sendError } from './http-io.js';
import { ImageApi } from './image-api.js';
import { runtimeContainerName } from './names.js';
import { parseBuildQuery, serveRemoteBuild } from './remote-build.js';

export interface EndpointOptions {
  runtime: Runtime;
  /** Registry client, for pulls, pushes, searches and logins of the image API and builds sent with push=true. */
  distribution?: Distribution;
  /** This node's certificate and key, and Berth's CA (the API server's client certificate must chain to it). */
  tls: AgentTlsCredentials;
  host?: string;
  port?: number;
}

/** Whether the request comes from the API server: a client certificate from Berth's CA with its CN. */
function fromApiServer(req: IncomingMessage): boolean {
  const socket = req.socket as TLSSocket;
  if (!socket.authorized) return false;
  const cn = socket.getPeerCertificate()?.subject?.CN;
  return (Array.isArray(cn) ? cn[0] : cn) === APISERVER_CLIENT_USER;
}

export class AgentEndpoint {
  private server: Server | undefined;
  private readonly upgraded = new Set<Duplex>();
  private readonly images: ImageApi;
  url = '';

  constructor(private readonly o: EndpointOptions) {
    this.images = new ImageApi({ runtime: o.runtime, ...(o.distribution ? { distribution: o.distribution } : {}) });
  }

  async start(): Promise<string> {
    const { key, cert, ca } = this.o.tls;
    this.server = createServer({ key, cert, ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }, (req, res) => {
      this.handle(req, res).catch((e: unknown) => sendError(res, e));
    });
    const exec = execUpgradeHandler(this.o.runtime);
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      // an upgraded socket leaves the server's bookkeeping: stop() ends it itself
      this.upgraded.add(socket);
      socket.once('close', () => this.upgraded.delete(socket));
      if (!fromApiServer(req)) return refuseUpgrade(socket, 403, { message: `Forbidden: only ${APISERVER_CLIENT_USER} may call this endpoint` });
      exec(req, socket, head);
    });
    const host = this.o.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.o.port ?? 0, host, () => resolve());
    });
    const addr = this.server.address() as AddressInfo;
    this.url = `https://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    for (const socket of this.upgraded) socket.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server!.close(() => r()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://agent');
    if (!fromApiServer(req)) return send(res, 403, { message: `Forbidden: only ${APISERVER_CLIENT_USER} may call this endpoint` });
    if (url.pathname === '/healthz') {
      res.end('ok');
      return;
    }
    if (url.pathname === '/metrics') {
      res.writeHead(200, { 'content-type': metricsRegistry.contentType });
      res.end(await metricsRegistry.metrics());
      return;
    }
    if (url.pathname === '/build') {
      if (req.method !== 'POST') return send(res, 405, { message: 'build needs POST with the context tar as body' });
      let q;
      try {
        q = parseBuildQuery(url.searchParams);
      } catch (e) {
        return send(res, 400, { message: (e as Error).message });
      }
      if (q.push && !this.o.distribution) return send(res, 400, { message: 'push: this node has no registry client' });
      return serveRemoteBuild(this.o.runtime, q, req, res, this.o.distribution);
    }
    if (await this.images.handle(url.pathname, url, req, res)) return;
    const m = /^\/containers\/([^/]+)\/([^/]+)\/(log|exec|top|stats|archive|kill|changes|export)$/.exec(url.pathname);
    if (!m) return send(res, 404, { message: `no such path ${url.pathname}` });
    const ref = runtimeContainerName(decodeURIComponent(m[1]!), decodeURIComponent(m[2]!));
    const rt = this.o.runtime.tasks;
    switch (m[3]) {
      case 'log':
        return this.logs(ref, url.searchParams, req, res);
      case 'top':
        return send(res, 200, { processes: await rt.top(ref) });
      case 'stats':
        return send(res, 200, await rt.stats(ref));
      case 'archive':
        return this.archive(ref, url.searchParams.get('path'), req, res);
      case 'changes':
        // docker diff: what the container changed in its filesystem, as Docker's [{Path, Kind}] (0 modified, 1 added, 2 deleted)
        return send(res, 200, (await this.o.runtime.changes.diff(ref)).map((c) => ({ Path: c.path, Kind: c.kind === 'C' ? 0 : c.kind === 'A' ? 1 : 2 })));
      case 'export':
        return this.exportRootfs(ref, res);
      case 'kill': {
        // docker kill -s: a signal to the container's process, which then exits as its restartPolicy says
        if (req.method !== 'POST') return send(res, 405, { message: 'kill needs POST' });
        const signal = url.searchParams.get('signal') ?? 'KILL';
        if (!SIGNAL_RE.test(signal)) return send(res, 400, { message: `signal: "${signal}" is not a signal name or number` });
        await rt.kill(ref, signal);
        return send(res, 200, { signal });
      }
      case 'exec': {
        if (req.method !== 'POST') return send(res, 405, { message: 'exec needs POST' });
        const body = (await readJsonObject(req, 1 << 20)) as { command?: unknown; stdin?: unknown; env?: unknown; user?: unknown; workingDir?: unknown };
        if (!Array.isArray(body.command) || body.command.length === 0 || !body.command.every((c) => typeof c === 'string')) {
          return send(res, 400, { message: 'command: must be a non-empty array of strings' });
        }
        const result = await rt.exec(ref, {
          cmd: body.command as string[],
          ...(typeof body.stdin === 'string' ? { input: body.stdin } : {}),
          ...(typeof body.user === 'string' ? { user: body.user } : {}),
          ...(typeof body.workingDir === 'string' ? { workingDir: body.workingDir } : {}),
          ...(Array.isArray(body.env) ? { env: body.env as string[] } : {}),
        });
        return send(res, 200, result);
      }
    }
  }

  /** docker export: the container's filesystem as one tar, written to a temporary file on the node and streamed. */
  private async exportRootfs(ref: string, res: ServerResponse): Promise<void> {
    await this.o.runtime.containers.resolve(ref);
    await mkdir(join(this.o.runtime.root, 'tmp'), { recursive: true });
    const tmp = await mkdtemp(join(this.o.runtime.root, 'tmp', 'export-'));
    try {
      const out = join(tmp, 'rootfs.tar');
      await this.o.runtime.changes.export(ref, out);
      res.writeHead(200, { 'content-type': 'application/x-tar' });
      await pipeline(createReadStream(out), res);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  /**
   * docker cp through a tar stream: GET copies a path out of the container, PUT copies a tar's entries
   * in. The runtime resolves every path inside the container's root and streams the tar both ways
   * (nothing is staged on the node's disk); entries keep their owners and modes, and the client
   * decides what to keep (berth cp drops setuid, setgid and ownership unless -a).
   */
  private async archive(ref: string, path: string | null, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!path || !path.startsWith('/')) return send(res, 400, { message: 'path: must be an absolute path inside the container' });
    const rt = this.o.runtime.changes;
    if (req.method === 'GET') {
      const src = await rt.archive(ref, path);
      res.writeHead(200, { 'content-type': 'application/x-tar' });
      try {
        await src.writeTo(res);
      } catch {
        // the answer has started: a failure now can only cut it short (the client sees a truncated tar)
        res.destroy();
      }
      return;
    }
    if (req.method !== 'PUT') return send(res, 405, { message: 'archive takes GET (copy out) or PUT (copy in)' });
    await rt.extract(ref, path, req);
    send(res, 200, { copied: path });
  }

  private async logs(ref: string, q: URLSearchParams, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const follow = q.get('follow') === 'true' || q.get('follow') === '1';
    const timestamps = q.get('timestamps') === 'true' || q.get('timestamps') === '1';
    const tail = q.get('tailLines');
    const sinceSeconds = q.get('sinceSeconds');
    const sinceTime = q.get('sinceTime');
    const since = sinceSeconds ? new Date(Date.now() - Number(sinceSeconds) * 1000).toISOString() : sinceTime ?? undefined;
    if (tail !== null && !/^\d+$/.test(tail)) return send(res, 400, { message: 'tailLines: must be a non-negative integer' });
    if (sinceSeconds !== null && !/^\d+$/.test(sinceSeconds)) return send(res, 400, { message: 'sinceSeconds: must be a non-negative integer' });
    // format=cri: each line as the CRI log format has it, "<time> <stdout|stderr> F <text>", so that a reader
    // (the Docker API, berth logs) keeps the two streams apart in their order
    const format = q.get('format') ?? 'text';
    if (format !== 'text' && format !== 'cri') return send(res, 400, { message: `format: must be text or cri, not "${format}"` });
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    // Resolve the container before answering 200, so a missing one is a 404.
    await this.o.runtime.containers.resolve(ref);
    const lines = this.o.runtime.tasks.logs(ref, { follow, ...(tail !== null ? { tail: Number(tail) } : {}), ...(since ? { since } : {}) }, abort.signal);
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' });
    res.flushHeaders();
    const write = (l: { time: string; stream: string; line: string }) =>
      res.write(format === 'cri' ? `${l.time} ${l.stream} F ${l.line}\n` : timestamps ? `${l.time} ${l.line}\n` : `${l.line}\n`);
    for await (const l of lines) {
      if (abort.signal.aborted) break;
      write(l);
    }
    res.end();
  }
}
