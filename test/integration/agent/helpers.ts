/** A real node in the test process: API server on SQLite, scheduler, node lifecycle and agent on real runc. */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAllInOne, type AllInOne } from '../../../src/cmd/compose.js';
import { PluralClient as KubeClient, type KObject } from '../../helpers/plural-client.js';
import { openStore } from '../../../src/store/index.js';
import { busyboxTarball, cgroupsUnder, mountsUnder, removeCgroupParent } from '../runtime/helpers.js';
import { fetchTrusting } from '../../helpers/tls-fetch.js';
import { pruneNetworks, testNetworkOptions } from '../../helpers/test-network.js';

export { runtimeSkipReason } from '../runtime/helpers.js';

export interface TestNode {
  node: AllInOne;
  dir: string;
  client: KubeClient;
  cgroupParent: string;
  tarball: string;
  nodeName: string;
  /** What the node logged, every level (the last 10,000 lines). */
  logs: string[];
  api(path: string, init?: RequestInit): Promise<Response>;
  container(name: string): Promise<KObject | undefined>;
  apply(obj: object): Promise<void>;
  /** Stops everything and removes every container, mount, cgroup and directory the test made. */
  cleanup(): Promise<void>;
}

export const GV = 'berth.dev/v1alpha1';

export function containerManifest(name: string, spec: Record<string, unknown>): object {
  return { apiVersion: GV, kind: 'Container', metadata: { name, namespace: 'default' }, spec: { image: 'busybox:latest', ...spec } };
}

export async function startTestNode(opts: { agent?: boolean; nodeGraceMs?: number } = {}): Promise<TestNode> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-agent-'));
  const cgroupParent = `berth-test-${process.pid}-${Math.random().toString(16).slice(2, 8)}`;
  const tarball = await busyboxTarball(dir);
  const nodeName = 'test-node';
  const logs: string[] = [];
  const node = await startAllInOne({
    store: await openStore(`sqlite:${join(dir, 'state.db')}`),
    dataDir: join(dir, 'data'),
    listen: '127.0.0.1:0',
    nodeName,
    cgroupParent,
    // the build tests fetch git repositories made on this machine
    gitAllowFileUrls: true,
    agent: opts.agent,
    ...(opts.nodeGraceMs ? { nodeGraceMs: opts.nodeGraceMs } : {}),
    network: testNetworkOptions(),
    log: (msg) => {
      logs.push(msg);
      if (logs.length > 10_000) logs.splice(0, logs.length - 10_000);
    },
  });
  const client = KubeClient.fromFile(node.api.kubeconfigPath);
  const tlsFetch = fetchTrusting(node.api.caPem);
  const t: TestNode = {
    node,
    dir,
    client,
    cgroupParent,
    logs,
    tarball,
    nodeName,
    api(path, init = {}) {
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${node.api.credentials.adminToken}`);
      return tlsFetch(`${node.api.url}${path}`, { ...init, headers });
    },
    async container(name) {
      try {
        return await client.get('containers', 'default', name);
      } catch {
        return undefined;
      }
    },
    async apply(obj) {
      const o = obj as KObject & { kind: string };
      const plural = `${o.kind.toLowerCase()}s`;
      await client.create(plural, o.metadata.namespace ?? 'default', obj);
    },
    async cleanup() {
      await node.close();
      const root = join(dir, 'data', 'runtime');
      // Containers this test left behind (on failure) go too: nothing may outlive the test.
      try {
        const { Runtime } = await import('../../../src/runtime/index.js');
        const rt = new Runtime({ root, cgroupParent });
        for (const c of await rt.containers.records.all()) await rt.containers.remove(c.id, { force: true }).catch(() => undefined);
      } catch {
        // nothing to remove
      }
      await pruneNetworks(root).catch(() => undefined);
      for (const m of mountsUnder(dir).reverse()) {
        try {
          execFileSync('umount', ['-l', m]);
        } catch {
          // already gone
        }
      }
      await removeCgroupParent(cgroupParent);
      await rm(dir, { recursive: true, force: true });
    },
  };
  return t;
}

export function imageManifest(tarball: string): object {
  return { apiVersion: GV, kind: 'Image', metadata: { name: 'busybox', namespace: 'default' }, spec: { ref: 'busybox:latest', source: { import: { path: tarball, format: 'rootfs' } } } };
}

export { cgroupsUnder, mountsUnder };

export const phaseOf = (o: KObject | undefined): string | undefined => (o?.status as { phase?: string } | undefined)?.phase;
export const statusOf = (o: KObject | undefined): Record<string, unknown> => (o?.status ?? {}) as Record<string, unknown>;
