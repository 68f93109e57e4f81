/**
 * Starts the API server: store, kinds, the HTTPS listener and the admin kubeconfig, plus an in-process
 * door (connectInProcess) through which roles composed into the same process reach the very same
 * HTTP handlers. It hosts no controller: those are API clients (src/controllers), composed by src/cmd.
 */
import type { IncomingMessage } from 'node:http';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { mkdir } from 'node:fs/promises';
import { resourceOf, type KindInfo } from '../api/kind.js';
import { storedObjects } from '../metrics/apiserver.js';
import type { Store } from '../store/types.js';
import { createApp, type AppDeps, type OpenApiSource } from './app.js';
import { refuseUpgrade } from '../util/refuse-upgrade.js';
import { socketPair } from '../util/socket-pair.js';
import { errorText, logger } from '../util/log.js';
import { randomBytes } from 'node:crypto';
import { loadOrCreateCredentials, writeKubeconfig, type Credentials } from './auth.js';
import { Authenticator, type UserInfo } from './auth/authn.js';
import { ensureBootstrapPolicy } from './auth/bootstrap.js';
import { AuthDoor } from './auth/door.js';
import { rbacEscalationCheck } from './auth/escalation.js';
import { RbacAuthorizer } from './auth/rbac.js';
import { ApiError } from './status.js';
import { podSecurityAdmission, type PodSecurityOptions } from './pod-security.js';
import { InstrumentedStore } from './instrumented-store.js';
import { ensureServingCerts, servingNames } from './tls.js';
import { Resources } from './resources.js';
import { errors } from './status.js';
import type { WatchSettings } from './watch.js';

export interface ApiServerOptions {
  store: Store;
  kinds: KindInfo[];
  openapi: OpenApiSource;
  dataDir: string;
  /** host:port; port 0 picks a free one. */
  listen: string;
  /** Keep watch history this long before compacting it (Kubernetes: 5 minutes). */
  compactAfterMs?: number;
  watch?: WatchSettings;
  /** Extra subresources advertised in discovery (log, exec... when an agent proxy is wired). */
  subresources?: AppDeps['subresources'];
  /** Extra routes behind authentication; gets the server's Resources (the agent proxy uses it). */
  extraRoutes?: (resources: Resources) => AppDeps['extraRoutes'];
  /** Paths of extraRoutes that authenticate their callers themselves (webhooks); see AppDeps. */
  unauthenticatedPaths?: RegExp[];
  /** Container admission per namespace (default level baseline, no host paths allowed). */
  podSecurity?: PodSecurityOptions;
  /** Serves authenticated HTTP upgrade requests (exec over WebSocket); without it, upgrades are plain requests. */
  upgrade?: (resources: Resources) => UpgradeHandler;
}

/** Takes an upgrade request that was authenticated and authorised; answers on the socket, or takes it over. */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface ApiServer {
  url: string;
  kubeconfigPath: string;
  credentials: Credentials;
  /** PEM of the CA that signed the serving certificate (and signs client certificates). */
  caPem: string;
  /**
   * A new bearer token for `user`, valid while this process runs and known only to it: the identity
   * of a role composed into the process (controllers, the node agent).
   */
  issueProcessToken(user: UserInfo): string;
  store: Store;
  resources: Resources;
  /**
   * A new in-memory connection to the same HTTP handlers the listener serves (authentication,
   * admission, watches, upgrades): the in-process transport of the API client.
   */
  connectInProcess(): Duplex;
  close(): Promise<void>;
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen);
  if (!m) throw new Error(`--listen must be HOST:PORT, got "${listen}"`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`--listen port must be at most 65535, got ${port}`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

async function ensureDefaultNamespaces(resources: Resources, kinds: KindInfo[]): Promise<void> {
  const ns = kinds.find((k) => k.group === '' && k.plural === 'namespaces');
  if (!ns) return;
  for (const name of ['default', 'kube-system', 'kube-public']) {
    try {
      await resources.get(ns, '', name);
    } catch {
      await resources.create(ns, '', { metadata: { name } }, { fieldManager: 'berth-apiserver', dryRun: false, fieldValidation: 'Strict' });
    }
  }
}

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  const credentials = await loadOrCreateCredentials(opts.dataDir);
  const store = new InstrumentedStore(opts.store);
  const resources = new Resources(store, opts.kinds);
  const authorizer = new RbacAuthorizer(store);
  await authorizer.start();
  const authenticator = new Authenticator(store, credentials.adminToken);
  const door = new AuthDoor(authenticator, authorizer);
  resources.use(rbacEscalationCheck(authorizer));
  resources.use(podSecurityAdmission(store, opts.podSecurity));
  await ensureDefaultNamespaces(resources, opts.kinds);
  await ensureBootstrapPolicy(resources, opts.kinds);

  const extraRoutes = opts.extraRoutes?.(resources);
  const app = createApp({
    store,
    resources,
    kinds: opts.kinds,
    door,
    ...(opts.unauthenticatedPaths ? { unauthenticatedPaths: opts.unauthenticatedPaths } : {}),
    openapi: opts.openapi,
    ...(opts.watch ? { watch: opts.watch } : {}),
    ...(opts.subresources ? { subresources: opts.subresources } : {}),
    ...(extraRoutes ? { extraRoutes } : {}),
  });
  const { host, port } = parseListen(opts.listen);
  const tls = await ensureServingCerts(opts.dataDir, servingNames(host));
  // Client certificates are asked for, not required (tokens are the other way in); the
  // authenticator takes only those that Berth's CA signed.
  const server: Server = createServer({ cert: tls.certPem, key: tls.keyPem, ca: tls.caPem, requestCert: true, rejectUnauthorized: false }, app);
  server.keepAliveTimeout = 65_000;
  // The in-process door: the same app on a server that never listens; connections are socket pairs.
  const inProcess = createHttpServer(app);
  inProcess.keepAliveTimeout = 0;
  const inProcessSockets = new Set<Duplex>();
  // An upgraded socket leaves the server's bookkeeping (closeAllConnections): close() ends it itself.
  const upgraded = new Set<Duplex>();
  const upgrade = opts.upgrade?.(resources);
  if (upgrade) {
    const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      upgraded.add(socket);
      socket.once('close', () => upgraded.delete(socket));
      socket.on('error', () => undefined);
      door.admit(req).then(
        () => upgrade(req, socket, head),
        (err: unknown) => {
          const e = err instanceof ApiError ? err : errors.internal(String(err));
          refuseUpgrade(socket, e.code, e.toStatus());
        },
      );
    };
    server.on('upgrade', onUpgrade);
    inProcess.on('upgrade', onUpgrade);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `https://${urlHost === '0.0.0.0' ? '127.0.0.1' : urlHost}:${addr.port}`;
  const kubeconfigPath = await writeKubeconfig(opts.dataDir, url, credentials, tls.caPem);

  // Object counts for metrics, and history compaction so watches from long ago get 410 Gone.
  const marks: { at: number; revision: number }[] = [];
  const compactAfter = opts.compactAfterMs ?? 5 * 60_000;
  const housekeeping = setInterval(() => {
    void (async () => {
      const counts = await store.count();
      for (const kind of opts.kinds) storedObjects.set({ resource: kind.plural }, counts[resourceOf(kind)] ?? 0);
      marks.push({ at: Date.now(), revision: await store.revision() });
      while (marks.length > 0 && Date.now() - marks[0]!.at >= compactAfter) {
        const mark = marks.shift()!;
        if (mark.revision > (await store.compactedRevision())) await store.compact(mark.revision);
      }
    })().catch((err: unknown) => logger('apiserver').error({ err: errorText(err) }, 'housekeeping failed'));
  }, 10_000);
  housekeeping.unref();

  return {
    url,
    kubeconfigPath,
    credentials,
    caPem: tls.caPem,
    store,
    resources,
    issueProcessToken(user) {
      const token = randomBytes(32).toString('base64url');
      authenticator.addProcessToken(token, user);
      return token;
    },
    connectInProcess() {
      const [client, serverEnd] = socketPair();
      inProcessSockets.add(serverEnd);
      serverEnd.once('close', () => inProcessSockets.delete(serverEnd));
      inProcess.emit('connection', serverEnd);
      return client;
    },
    async close() {
      clearInterval(housekeeping);
      authorizer.stop();
      for (const socket of inProcessSockets) socket.destroy();
      for (const socket of upgraded) socket.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.close();
    },
  };
}
