/**
 * Starts a real API server in this process, on a temp data dir and a real SQLite store, with the
 * garbage collector and the namespace controller as API clients of it (as `berth server` runs them).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ApiServer } from '../../src/apiserver/server.js';
import { inProcessClient, startApi, startControllers, type ControllerSet } from '../../src/cmd/compose.js';
import { openStore } from '../../src/store/index.js';
import { fetchTrusting, type Fetch } from './tls-fetch.js';

export interface TestServer {
  server: ApiServer;
  dataDir: string;
  url: string;
  token: string;
  /** fetch trusting the server's CA, without credentials. */
  fetch: Fetch;
  /** fetch with the admin token. */
  api(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestServer(opts: { store?: 'sqlite' | 'memory'; dataDir?: string; port?: number; bookmarkIntervalMs?: number } = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'berth-api-')));
  const storeSpec = opts.store === 'memory' ? 'memory:' : `sqlite:${join(dataDir, 'state.db')}`;
  let controllers: ControllerSet | undefined;
  const boot = async (port: number) => {
    // the API server role as berth apiserver runs it (with the agent proxies and nodes/NAME/certificate)
    const api = await startApi({
      store: await openStore(storeSpec),
      dataDir,
      listen: `127.0.0.1:${port}`,
      ...(opts.bookmarkIntervalMs ? { watch: { bookmarkIntervalMs: opts.bookmarkIntervalMs } } : {}),
    });
    controllers = await startControllers(inProcessClient(api), { only: ['garbage_collector', 'namespace'], log: () => undefined });
    return api;
  };
  let server = await boot(opts.port ?? 0);
  const port = Number(new URL(server.url).port);
  const tlsFetch = fetchTrusting(server.caPem);
  const t: TestServer = {
    server,
    dataDir,
    url: server.url,
    token: server.credentials.adminToken,
    fetch: tlsFetch,
    api(path, init = {}) {
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${t.token}`);
      let body = init.body;
      if (init.json !== undefined) {
        body = JSON.stringify(init.json);
        if (!headers.has('content-type')) headers.set('content-type', 'application/json');
      }
      return tlsFetch(`${t.url}${path}`, { ...init, headers, body: body ?? null });
    },
    async restart() {
      await controllers?.stop();
      await server.close();
      server = await boot(port);
      t.server = server;
    },
    async stop() {
      await controllers?.stop();
      await server.close();
      if (!opts.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
  return t;
}
