/** An API server in this process with the GitSync controller (and GC, namespace) on it, for GitSync tests without an agent. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient, type KObject } from '../../../src/client/api-client.js';
import { EventType, GitSyncType, NamespaceType, SecretType } from '../../../src/client/kinds.js';
import { metricsRegistry } from '../../../src/metrics/registry.js';
import { inProcessClient, startControllers, type ControllerSet } from '../../../src/cmd/compose.js';
import { startTestServer, type TestServer } from '../../helpers/api-server.js';
import { makeRepo, type TestRepo } from '../../helpers/git-repo.js';

export interface GitSyncEnv {
  dir: string;
  server: TestServer;
  client: ApiClient;
  controllers: ControllerSet;
  repo: TestRepo;
  logs: string[];
  /** Another repository of this test. */
  newRepo(name: string): Promise<TestRepo>;
  /** Events recorded about a GitSync, by reason. */
  events(name: string): Promise<{ reason: string; message: string; type: string }[]>;
  /** The events of a GitSync once one with `reason` is there (events are sent in the background). */
  eventsOnceThere(name: string, reason: string): Promise<{ reason: string; message: string; type: string }[]>;
  /** Write requests (POST/PUT/PATCH/DELETE) the API server answered so far. */
  writes(): Promise<number>;
  gitsync(name: string, spec: Record<string, unknown>, namespace?: string): Promise<KObject>;
  get(name: string, namespace?: string): Promise<KObject & { status?: any }>;
  /** Resolves once `check` holds for the GitSync; waits on a watch, gives up after `ms`. */
  waitFor(name: string, check: (gs: KObject & { status?: any }) => boolean, ms?: number): Promise<KObject & { status?: any }>;
  stop(): Promise<void>;
}

export async function startGitSyncEnv(): Promise<GitSyncEnv> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-gitsync-'));
  const server = await startTestServer({ store: 'memory' });
  const client = inProcessClient(server.server);
  const logs: string[] = [];
  const controllers = await startControllers(client, { only: ['gitsync'], gitsyncCacheDir: join(dir, 'cache'), log: (m) => logs.push(m) });
  const repo = await makeRepo(join(dir, 'repo'));
  const gs = client.resource(GitSyncType);
  const env: GitSyncEnv = {
    dir,
    server,
    client,
    controllers,
    repo,
    logs,
    newRepo: (name) => makeRepo(join(dir, name)),
    async events(name) {
      const list = await client.resource(EventType).list({ namespace: 'default', fieldSelector: `involvedObject.name=${name},involvedObject.kind=GitSync` });
      return list.items.map((e) => ({ reason: String(e.reason), message: String(e.message), type: String(e.type) }));
    },
    async eventsOnceThere(name, reason) {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const list = await env.events(name);
        if (list.some((e) => e.reason === reason) || Date.now() > deadline) return list;
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async writes() {
      const text = await metricsRegistry.metrics();
      let n = 0;
      for (const m of text.matchAll(/^apiserver_request_total\{verb="(POST|PUT|PATCH|DELETE)"[^}]*\} (\d+)$/gm)) n += Number(m[2]);
      return n;
    },
    gitsync: (name, spec, namespace = 'default') => gs.create(namespace, { metadata: { name, namespace }, spec }),
    get: (name, namespace = 'default') => gs.get(namespace, name),
    async waitFor(name, check, ms = 30_000) {
      const deadline = Date.now() + ms;
      let last: KObject | undefined;
      for (;;) {
        last = await gs.getIfExists('default', name);
        if (last && check(last)) return last;
        if (Date.now() > deadline) throw new Error(`GitSync ${name}: condition not reached; last status: ${JSON.stringify(last?.status, null, 1)}\nlogs:\n${logs.join('\n')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      await env.controllers.stop();
      client.close();
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return env;
}

export const condition = (gs: { status?: any }, type: string): { status: string; reason: string; message: string } | undefined =>
  (gs.status?.conditions ?? []).find((c: { type: string }) => c.type === type);

export const secretManifest = (name: string, data: Record<string, string>, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, ...extra },
  stringData: data,
});

export { NamespaceType, SecretType };
