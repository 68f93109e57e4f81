import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Acl } from './acl.js';
import { createRegistryApp } from './app.js';
import { TokenSigner, UserDb } from './auth.js';
import { trackStorage } from './metrics.js';
import { AclPolicy, ApiPolicy, type ApiAccess } from './policy.js';
import { RegistryStorage, type StorageLimits } from './storage.js';
import { logger } from '../util/log.js';

export interface RegistryServerOptions {
  /** Berth data directory; the registry keeps its state in <dataDir>/registry. */
  dataDir: string;
  /** HOST:PORT (port 0 picks a free one). Default 127.0.0.1:5000. */
  listen?: string;
  /** Token auth: 'auto' (default) turns it on when there are ACL rules or <dataDir>/registry/users has users. */
  auth?: 'auto' | 'on' | 'off';
  /**
   * Berth identities instead of users and ACL (the registry of `berth server`): auth is on, a Berth
   * token is the credential and RBAC on registry.berth.dev/repositories decides (policy.ts).
   */
  api?: ApiAccess;
  /** Access rules (acl-config.ts loads them from a file); without them every user may do everything. */
  acl?: Acl;
  /** Anonymous pulls of every repository (after the ACL's own rules when there is one). */
  anonymousPull?: boolean;
  readOnly?: boolean;
  service?: string;
  maxManifestBytes?: number;
  /** Upload lifetime and size cap (defaults 1 hour and 10 GiB). */
  limits?: StorageLimits;
  /** How often abandoned uploads are swept (default: a quarter of their lifetime, at most 5 minutes). */
  sweepIntervalMs?: number;
  /** Serve HTTPS with this PEM certificate and key (paths). */
  tls?: { certFile: string; keyFile: string };
}

export interface RunningRegistry {
  url: string;
  host: string;
  port: number;
  storage: RegistryStorage;
  users: UserDb;
  authEnabled: boolean;
  close(): Promise<void>;
}

export function parseListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  const host = i >= 0 ? listen.slice(0, i).replace(/^\[|\]$/g, '') : listen;
  const port = i >= 0 ? Number(listen.slice(i + 1)) : 5000;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`listen: "${listen}" needs a port between 0 and 65535`);
  return { host: host || '0.0.0.0', port };
}

export function registryRoot(dataDir: string): string {
  return join(dataDir, 'registry');
}

/** Starts the registry's HTTP server: HTTPS with `tls`, else plain HTTP (fine on localhost, which Docker treats as insecure). */
export async function startRegistry(o: RegistryServerOptions): Promise<RunningRegistry> {
  const root = registryRoot(o.dataDir);
  const storage = new RegistryStorage(root, o.limits);
  const users = new UserDb(join(root, 'users'));
  if (o.auth === 'off' && o.acl) throw new Error('auth: an ACL needs token auth (on or auto), not off');
  if (o.api && (o.acl || o.auth === 'off')) throw new Error('auth: with Berth identities the API server decides: no ACL, no auth off');
  const authEnabled = o.api !== undefined || o.auth === 'on' || (o.auth !== 'off' && (o.acl !== undefined || (await users.hasUsers())));
  const acl = o.acl ? (o.anonymousPull ? o.acl.withAnonymousPull() : o.acl) : Acl.defaults(o.anonymousPull ?? false);
  const policy = o.api ? new ApiPolicy(o.api, o.anonymousPull ?? false, o.readOnly ?? false) : new AclPolicy(users, acl, o.readOnly ?? false);
  const auth = authEnabled ? { policy, signer: await TokenSigner.open(root), service: o.service ?? 'berth-registry' } : undefined;
  const app = createRegistryApp({ storage, auth, readOnly: o.readOnly, maxManifestBytes: o.maxManifestBytes });
  const { host, port } = parseListen(o.listen ?? '127.0.0.1:5000');
  const server: Server = o.tls ? createHttpsServer({ cert: await readFile(o.tls.certFile), key: await readFile(o.tls.keyFile) }, app) : createServer(app);
  server.requestTimeout = 0;
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const untrack = trackStorage(storage);
  // abandoned uploads go: an expired one is already refused, the sweep frees its space
  const log = logger('registry');
  let sweeping = false;
  const sweep = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    storage
      .sweepUploads()
      .then(
        (ids) => ids.length && log.info({ uploads: ids.length, ids }, `removed ${ids.length} expired uploads`),
        (e: unknown) => log.warn({ err: (e as Error).message }, 'upload sweep failed'),
      )
      .finally(() => (sweeping = false));
  }, o.sweepIntervalMs ?? Math.min(storage.uploadMaxAgeMs / 4, 300_000));
  sweep.unref();
  const addr = server.address() as AddressInfo;
  const shownHost = addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  return {
    url: `${o.tls ? 'https' : 'http'}://${shownHost}:${addr.port}`,
    host: addr.address,
    port: addr.port,
    storage,
    users,
    authEnabled,
    close: () =>
      new Promise<void>((resolve) => {
        untrack();
        clearInterval(sweep);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
