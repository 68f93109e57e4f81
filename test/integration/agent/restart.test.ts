/**
 * kill -9 of the agent while many containers run: the new agent adopts them without a restart,
 * reports the exit that happened meanwhile and removes the runtime container whose object went away.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../helpers/run.js';
import { containerManifest, imageManifest, phaseOf, runtimeSkipReason, startTestNode, statusOf, type TestNode } from './helpers.js';
import { testNetworkFlags } from '../../helpers/test-network.js';

const skip = runtimeSkipReason();
if (skip) console.warn(`skipping agent restart test: ${skip}`);

const COUNT = 50;
const ROOT = resolve(import.meta.dirname, '../../..');

describe.skipIf(!!skip)('agent restart (kill -9)', () => {
  let t: TestNode;
  let agent: ChildProcess | undefined;
  let output = '';

  const startAgent = async (): Promise<void> => {
    output = '';
    agent = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'src/cmd/main.ts'), 'agent', '--kubeconfig', t.node.api.kubeconfigPath, '--node-name', t.nodeName, '--data-dir', join(t.dir, 'data'), '--cgroup-parent', t.cgroupParent, ...testNetworkFlags()],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_NO_WARNINGS: '1'} },
    );
    agent.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    agent.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const a = agent;
    await new Promise<void>((done, fail) => {
      const timer = setInterval(() => {
        if (output.includes('registered')) {
          clearInterval(timer);
          done();
        } else if (a.exitCode !== null) {
          clearInterval(timer);
          fail(new Error(`berth agent exited with ${a.exitCode}:\n${output}`));
        }
      }, 50);
    });
  };

  const killAgent = async (): Promise<void> => {
    const a = agent;
    if (!a || a.exitCode !== null || a.signalCode !== null) return;
    const exited = new Promise((r) => a.once('exit', r));
    a.kill('SIGKILL');
    await exited;
  };

  beforeAll(async () => {
    t = await startTestNode({ agent: false });
    await startAgent();
  });
  afterAll(async () => {
    await killAgent();
    await t?.cleanup();
  });

  it(`adopts ${COUNT} running containers without restarting them`, { timeout: 240_000 }, async () => {
    await t.apply(imageManifest(t.tarball));
    const names = Array.from({ length: COUNT }, (_, i) => `sleeper-${i}`);
    for (const n of names) await t.apply(containerManifest(n, { command: ['sleep', '3600'], stopGracePeriodSeconds: 1 }));
    await t.apply(containerManifest('victim', { command: ['sleep', '3600'], restartPolicy: 'Never' }));
    await t.apply(containerManifest('orphan', { command: ['sleep', '3600'] }));
    const all = [...names, 'victim', 'orphan'];
    const started = Date.now();
    await expect
      .poll(async () => {
        const list = await t.client.list('containers', { namespace: 'default' });
        return list.items.filter((c) => phaseOf(c) === 'Running').length;
      }, { timeout: 180_000, interval: 500 })
      .toBe(all.length);
    console.log(`agent restart test: ${all.length} containers Running ${((Date.now() - started) / 1000).toFixed(1)}s after apply`);
    const before = new Map((await t.client.list('containers', { namespace: 'default' })).items.map((c) => [c.metadata.name, statusOf(c)]));

    const certBefore = await readFile(join(t.dir, 'data', 'agent-tls', 'node.crt'), 'utf8');
    await killAgent();
    // Meanwhile: the victim's process dies, and the orphan's object disappears (finalizer stripped).
    process.kill(before.get('victim')!.pid as number, 'SIGKILL');
    await t.client.patch('containers', 'default', 'orphan', { metadata: { finalizers: null } });
    await t.client.custom.deleteNamespacedCustomObject({ group: 'berth.dev', version: 'v1alpha1', plural: 'containers', namespace: 'default', name: 'orphan' });
    const orphanId = before.get('orphan')!.containerID as string;
    expect((await t.node.runtime?.containers.records.all()) ?? []).toHaveLength(0); // no in-process agent: the child owns the runtime

    const spawned = Date.now();
    await startAgent();
    const back = Date.now();
    // the endpoint's certificate was kept in the data dir: the same one is served after the restart
    expect(await readFile(join(t.dir, 'data', 'agent-tls', 'node.crt'), 'utf8')).toBe(certBefore);
    const url = ((await t.client.get('nodes', undefined, t.nodeName)).status as { agentEndpoint: { url: string } }).agentEndpoint.url;
    const served = await new Promise<string>((resolve, reject) => {
      const s = tlsConnect({ host: new URL(url).hostname, port: Number(new URL(url).port), rejectUnauthorized: false }, () => {
        resolve(s.getPeerX509Certificate()!.toString());
        s.destroy();
      });
      s.on('error', reject);
    });
    expect(new X509Certificate(served).fingerprint256).toBe(new X509Certificate(certBefore).fingerprint256);
    await expect
      .poll(async () => {
        const victim = statusOf(await t.container('victim'));
        return victim.phase === 'Exited' && victim.exitCode === 137;
      }, { timeout: 60_000, interval: 100 })
      .toBe(true);
    const { Runtime } = await import('../../../src/runtime/index.js');
    const rt = new Runtime({ root: join(t.dir, 'data', 'runtime'), cgroupParent: t.cgroupParent });
    await expect.poll(async () => (await rt.containers.records.all()).some((r) => r.id === orphanId), { timeout: 60_000, interval: 100 }).toBe(false);
    console.log(
      `agent restart test: exit reported and orphan removed ${((Date.now() - back) / 1000).toFixed(2)}s after the agent registered again (${((Date.now() - spawned) / 1000).toFixed(2)}s after its process was spawned)`,
    );

    const after = new Map((await t.client.list('containers', { namespace: 'default' })).items.map((c) => [c.metadata.name, statusOf(c)]));
    expect([...after.keys()].sort()).toEqual([...names, 'victim'].sort());
    for (const n of names) {
      const a = after.get(n)!;
      const b = before.get(n)!;
      expect({ n, phase: a.phase, pid: a.pid, id: a.containerID, restarts: a.restartCount }).toEqual({ n, phase: 'Running', pid: b.pid, id: b.containerID, restarts: 0 });
      process.kill(a.pid as number, 0); // still alive
    }
    expect(after.get('victim')).toMatchObject({ phase: 'Exited', exitCode: 137, reason: 'Error', restartCount: 0 });
  });

  it('serves its metrics to the API server only (promtool-clean when promtool is installed)', async () => {
    const url = ((await t.client.get('nodes', undefined, t.nodeName)).status as { agentEndpoint: { url: string } }).agentEndpoint.url;
    const tls = join(t.dir, 'data', 'tls');
    const get = (o: { cert?: string; key?: string }): Promise<string> =>
      new Promise((resolve, reject) => {
        const req = https.get(new URL('/metrics', url), { ca: readFileSync(join(tls, 'ca.crt')), ...o, checkServerIdentity: () => undefined }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(body));
        });
        req.on('error', reject);
      });
    // without the API server's client certificate the handshake fails
    await expect(get({})).rejects.toThrow();
    const text = await get({ cert: readFileSync(join(tls, 'apiserver-client.crt'), 'utf8'), key: readFileSync(join(tls, 'apiserver-client.key'), 'utf8') });
    expect(text).toMatch(/berth_containers\{phase="Running"\} 50/);
    expect(text).toMatch(/container_processes\{namespace="default",pod="sleeper-0",container="sleeper-0",name="sleeper-0",id="[a-f0-9]{64}"\} 1/);
    expect(text).toContain('workqueue_depth{name="agent_containers"}');
    const promtool = await run('promtool', ['check', 'metrics'], { input: text }).catch(() => undefined);
    if (!promtool) {
      console.warn('promtool missing (Debian package prometheus): format check skipped');
      return;
    }
    expect(promtool.stdout + promtool.stderr).toBe('');
    expect(promtool.code).toBe(0);
  });
});
