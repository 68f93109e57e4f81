/** The agent's informers survive an API server restart: work applied afterwards still reaches the node. */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../../src/agent/agent.js';
import { ensureNodeCertificate } from '../../../src/agent/node-certificate.js';
import { PluralClient as KubeClient } from '../../helpers/plural-client.js';
import { Runtime } from '../../../src/runtime/index.js';
import { startTestServer, type TestServer } from '../../helpers/api-server.js';
import { busyboxTarball, makeTempRoot, removeCgroupParent, runtimeSkipReason } from '../runtime/helpers.js';
import { containerManifest, imageManifest, phaseOf } from './helpers.js';
import { rm } from 'node:fs/promises';
import { testNetworkOptions } from '../../helpers/test-network.js';

const skip = runtimeSkipReason();
if (skip) console.warn(`skipping agent API-restart test: ${skip}`);

describe.skipIf(!!skip)('agent across an API server restart', () => {
  let t: TestServer;
  let dir: string;
  let agent: Agent;
  let runtime: Runtime;
  const cgroupParent = `berth-test-apirestart-${process.pid}`;

  beforeAll(async () => {
    dir = await makeTempRoot('agent-apirestart');
    t = await startTestServer({ dataDir: join(dir, 'api') });
    runtime = new Runtime({ root: join(dir, 'runtime'), cgroupParent });
    // No scheduler here: manifests name the node themselves.
    const client = KubeClient.fromFile(t.server.kubeconfigPath).api;
    const endpointTls = await ensureNodeCertificate(client, 'solo', join(dir, 'agent-tls'));
    agent = new Agent({ client, runtime, nodeName: 'solo', endpointTls, network: testNetworkOptions(), log: () => undefined });
    await agent.start();
  });
  afterAll(async () => {
    await agent?.stop();
    for (const c of (await runtime?.containers.records.all()) ?? []) await runtime.containers.remove(c.id, { force: true }).catch(() => undefined);
    await runtime?.networks.prune();
    await runtime?.close();
    await t?.stop();
    await removeCgroupParent(cgroupParent);
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps watching after the API server restarts', async () => {
    const client = KubeClient.fromFile(t.server.kubeconfigPath);
    const tarball = await busyboxTarball(dir);
    const img = imageManifest(tarball) as { spec: Record<string, unknown> };
    img.spec.nodeName = 'solo';
    await client.create('images', 'default', img);
    await t.restart();
    const c = containerManifest('after-restart', { command: ['sleep', '3600'], nodeName: 'solo', stopGracePeriodSeconds: 1 });
    await expect.poll(() => client.create('containers', 'default', c).then(() => true, () => false), { timeout: 30_000, interval: 500 }).toBe(true);
    await expect.poll(async () => phaseOf(await client.get('containers', 'default', 'after-restart').catch(() => undefined)), { timeout: 60_000, interval: 250 }).toBe('Running');
    await client.custom.deleteNamespacedCustomObject({ group: 'berth.dev', version: 'v1alpha1', plural: 'containers', namespace: 'default', name: 'after-restart' });
    await expect.poll(async () => (await runtime.containers.records.all()).length, { timeout: 30_000, interval: 250 }).toBe(0);
  });
});
