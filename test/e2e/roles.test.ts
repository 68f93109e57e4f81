/**
 * Berth as three processes, as a cluster runs it: `berth apiserver` (the API on SQLite),
 * `berth controller` (scheduler, garbage collector, namespace and node lifecycle controllers, an
 * HTTPS client of the API) and `berth agent` (the node, on real runc), driven by real kubectl.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { berthArgv, ROOT } from '../helpers/berth-bin.js';
import { cleanUpE2eServer } from '../helpers/e2e-cleanup.js';
import { BUSYBOX_TAR, e2eSkipReason } from '../helpers/e2e-skip.js';
import { run } from '../helpers/run.js';
import { testNetworkFlags } from '../helpers/test-network.js';

const skip = e2eSkipReason('roles', ['runc', 'conmon', 'kubectl']);
if (skip) console.warn(`skipping roles e2e: ${skip}`);

const POLL = { timeout: 60_000, interval: 250 };

interface RoleProcess {
  child: ChildProcess;
  output(): string;
  kill(): Promise<void>;
}

/** Starts `berth ARGS` and resolves once its output matches `ready`. */
async function startRole(args: string[], ready: RegExp): Promise<RoleProcess> {
  const [cmd, argv] = berthArgv(args);
  const child = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_NO_WARNINGS: '1' } });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (ready.test(out)) {
        clearInterval(timer);
        resolve();
      }
    }, 50);
    child.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`berth ${args[0]} exited with ${code}:\n${out}`));
    });
  });
  return {
    child,
    output: () => out,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

describe.skipIf(!!skip)('berth apiserver + berth controller + berth agent as three processes', { timeout: 180_000 }, () => {
  let dir: string;
  let api: RoleProcess | undefined;
  let controller: RoleProcess | undefined;
  let agent: RoleProcess | undefined;
  const cgroupParent = `berth-e2e-roles-${process.pid}`;
  let kubeconfig: string;
  const kc = (...args: string[]) => run('kubectl', ['--kubeconfig', kubeconfig, ...args], { timeoutMs: 90_000 });
  const jsonpath = async (args: string[], path: string) => (await kc('get', ...args, '-o', `jsonpath={${path}}`)).stdout;
  const applyYaml = async (name: string, yaml: string) => {
    const file = join(dir, `${name}.yaml`);
    await writeFile(file, yaml);
    const out = await kc('apply', '-f', file);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-e2e-roles-'));
    api = await startRole(['apiserver', '--data-dir', join(dir, 'api'), '--listen', '127.0.0.1:0'], /controller kubeconfig /);
    kubeconfig = join(dir, 'api', 'kubeconfig');
    // the controllers as system:berth-controller (the kubeconfig berth apiserver writes for them), not as the admin
    controller = await startRole(['controller', '--kubeconfig', join(dir, 'api', 'controller.kubeconfig')], /"component":"controller".*running /);
    agent = await startRole(
      ['agent', '--kubeconfig', kubeconfig, '--node-name', 'roles-node', '--data-dir', join(dir, 'data'), '--cgroup-parent', cgroupParent, ...testNetworkFlags()],
      /"component":"agent".*node roles-node registered/,
    );
  });

  afterAll(async () => {
    await controller?.kill();
    await api?.kill();
    // the agent's runtime is under dir/data, as a server's would be: the shared teardown removes what is left
    await cleanUpE2eServer(agent, dir, cgroupParent);
  });

  it('schedules a Container onto the agent node, which runs it; logs come through the API server', async () => {
    await applyYaml(
      'app',
      `apiVersion: berth.dev/v1alpha1
kind: Image
metadata: {name: busybox}
spec: {ref: "busybox:latest", source: {import: {path: ${BUSYBOX_TAR}, format: rootfs}}}
---
apiVersion: berth.dev/v1alpha1
kind: Container
metadata: {name: app}
spec: {image: "busybox:latest", command: [sh, -c, "echo up; exec sleep 3600"], stopGracePeriodSeconds: 1}
`,
    );
    await expect.poll(() => jsonpath(['container', 'app'], '.status.phase'), POLL).toBe('Running');
    // the binding was the controller process's, the run the agent's
    expect(await jsonpath(['container', 'app'], '.spec.nodeName')).toBe('roles-node');
    expect(await jsonpath(['node', 'roles-node'], '.status.conditions[?(@.type=="Ready")].status')).toBe('True');
    const [cmd, argv] = berthArgv(['logs', '--kubeconfig', kubeconfig, 'app']);
    await expect.poll(async () => (await run(cmd, argv, { timeoutMs: 30_000 })).stdout, POLL).toBe('up\n');
  });

  it('collects objects whose owner is deleted (garbage collector in the controller process)', async () => {
    const uid = await jsonpath(['container', 'app'], '.metadata.uid');
    expect(uid).toMatch(/^[0-9a-f-]{36}$/);
    const owner = `ownerReferences: [{apiVersion: berth.dev/v1alpha1, kind: Container, name: app, uid: "${uid}"}]`;
    await applyYaml(
      'owned',
      `apiVersion: v1
kind: Secret
metadata: {name: app-config, ${owner}}
stringData: {greeting: hello}
---
apiVersion: berth.dev/v1alpha1
kind: Volume
metadata: {name: app-data, ${owner}}
spec: {}
`,
    );
    await expect.poll(() => jsonpath(['volume', 'app-data'], '.status.phase'), POLL).toBe('Ready');
    const deleted = await kc('delete', 'container', 'app', '--wait=true', '--timeout=60s');
    expect(deleted.code).toBe(0);
    await expect.poll(async () => (await kc('get', 'secret', 'app-config', '--ignore-not-found', '-o', 'name')).stdout, POLL).toBe('');
    await expect.poll(async () => (await kc('get', 'volume', 'app-data', '--ignore-not-found', '-o', 'name')).stdout, POLL).toBe('');
  });

  it('deletes a namespace with its content: the agent stops its container, then the namespace goes', async () => {
    await applyYaml(
      'team',
      `apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: berth.dev/v1alpha1
kind: Image
metadata: {name: busybox, namespace: team}
spec: {ref: "busybox:latest", source: {import: {path: ${BUSYBOX_TAR}, format: rootfs}}}
---
apiVersion: berth.dev/v1alpha1
kind: Container
metadata: {name: worker, namespace: team}
spec: {image: "busybox:latest", command: [sleep, "3600"], stopGracePeriodSeconds: 1}
`,
    );
    await expect.poll(() => jsonpath(['container', 'worker', '-n', 'team'], '.status.phase'), POLL).toBe('Running');
    const deleted = await kc('delete', 'namespace', 'team', '--wait=true', '--timeout=90s');
    expect(deleted.stderr).toBe('');
    expect(deleted.code).toBe(0);
    expect((await kc('get', 'namespace', 'team', '--ignore-not-found', '-o', 'name')).stdout).toBe('');
    expect((await kc('get', 'containers', '-A', '-o', 'name')).stdout).not.toContain('worker');
  });
});
