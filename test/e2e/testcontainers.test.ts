/**
 * Testcontainers for Node (the npm package `testcontainers`, unchanged) against a Berth node's Docker
 * socket (issue 16): a container started with an exposed port and a log wait strategy, reached on the
 * port it maps, exec'd into, its logs read, stopped; every step through the Berth API, nothing left.
 * Ryuk, its reaper, is an image from Docker Hub that this machine cannot pull: it is off, and the test
 * stops what it started itself.
 */
import { mkdtemp } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { berthArgv } from '../helpers/berth-bin.js';
import { busyboxDockerArchive } from '../helpers/docker-archive.js';
import { cleanUpE2eServer } from '../helpers/e2e-cleanup.js';
import { e2eSkipReason } from '../helpers/e2e-skip.js';
import { run } from '../helpers/run.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

const skip = e2eSkipReason('Testcontainers', ['runc', 'conmon', 'docker']);
const hasTestcontainers = (() => {
  try {
    createRequire(import.meta.url).resolve('testcontainers');
    return true;
  } catch {
    return false;
  }
})();
if (skip) console.warn(`skipping Testcontainers e2e: ${skip}`);

/** The part of testcontainers this test uses (its own types need a newer TypeScript lib setting). */
interface Started {
  getId(): string;
  getMappedPort(port: number): number;
  exec(cmd: string[]): Promise<{ output: string; exitCode: number }>;
  logs(): Promise<NodeJS.ReadableStream>;
  stop(o?: { timeout?: number }): Promise<unknown>;
}
interface Generic {
  withCommand(c: string[]): Generic;
  withExposedPorts(...p: number[]): Generic;
  withName(n: string): Generic;
  withLabels(l: Record<string, string>): Generic;
  withWaitStrategy(w: unknown): Generic;
  start(): Promise<Started>;
}
interface TestcontainersModule {
  GenericContainer: new (image: string) => Generic;
  Wait: { forLogMessage(m: string | RegExp): unknown };
}

describe.skipIf(!!skip || !hasTestcontainers)('Testcontainers on a Berth socket', () => {
  let dir: string;
  let server: ServerProcess;
  let sock: string;
  const cgroupParent = `berth-e2e-tc-${process.pid}`;
  const saved = { host: process.env.DOCKER_HOST, ryuk: process.env.TESTCONTAINERS_RYUK_DISABLED };
  const berth = (args: string[]) => {
    const [cmd, argv] = berthArgv(args);
    return run(cmd, argv, { timeoutMs: 90_000, env: { ...process.env, KUBECONFIG: server.kubeconfig } });
  };
  const containers = async (): Promise<{ metadata: { name: string; labels?: Record<string, string> }; status?: { phase?: string } }[]> =>
    (JSON.parse((await berth(['get', 'containers', '-o', 'json'])).stdout) as { items: [] }).items;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-e2e-tc-'));
    sock = join(dir, 'docker.sock');
    server = await startServerProcess(join(dir, 'data'), ['--cgroup-parent', cgroupParent, '--node-name', 'tc', '--no-registry', '--docker-socket', sock]);
    const load = await run('docker', ['load', '-i', await busyboxDockerArchive(dir)], { timeoutMs: 120_000, env: { ...process.env, DOCKER_HOST: `unix://${sock}` } });
    expect(load.code, load.stderr).toBe(0);
    // read by testcontainers when it first makes its client
    process.env.DOCKER_HOST = `unix://${sock}`;
    process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
  }, 120_000);

  afterAll(async () => {
    process.env.DOCKER_HOST = saved.host;
    process.env.TESTCONTAINERS_RYUK_DISABLED = saved.ryuk;
    if (saved.host === undefined) delete process.env.DOCKER_HOST;
    if (saved.ryuk === undefined) delete process.env.TESTCONTAINERS_RYUK_DISABLED;
    await cleanUpE2eServer(server, dir, cgroupParent);
  });

  it('starts a container with a mapped port and a log wait, execs in it, reads its logs and stops it', async () => {
    const name = 'testcontainers';
    const tc = (await import(name)) as TestcontainersModule;
    const page = 'served-to-testcontainers';
    const started = await new tc.GenericContainer('busybox:latest')
      .withName('tc-web')
      .withLabels({ suite: 'berth' })
      .withExposedPorts(8080)
      .withCommand(['sh', '-c', `mkdir -p /www && echo ${page} > /www/index.html && echo ready && exec httpd -f -p 8080 -h /www`])
      .withWaitStrategy(tc.Wait.forLogMessage('ready'))
      .start();
    const objs = await containers();
    expect(objs.map((o) => [o.metadata.name, o.status?.phase, o.metadata.labels?.suite])).toEqual([['tc-web', 'Running', 'berth']]);
    const port = started.getMappedPort(8080);
    expect(port).toBeGreaterThan(0);
    const fetchText = () => fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) }).then((r) => r.text()).catch((e: Error) => `error: ${e.message}`);
    await expect.poll(fetchText, { timeout: 30_000, interval: 200 }).toBe(`${page}\n`);
    const ex = await started.exec(['sh', '-c', 'echo from-exec; exit 3']);
    expect([ex.exitCode, ex.output]).toEqual([3, 'from-exec\n']);
    const logs = await started.logs();
    let text = '';
    logs.on('data', (d: Buffer | string) => (text += d.toString()));
    await expect.poll(() => text, { timeout: 10_000 }).toContain('ready');
    (logs as unknown as { destroy?: () => void }).destroy?.();
    await started.stop({ timeout: 1 });
    // stop in testcontainers removes the container too (and its anonymous volumes)
    expect(await containers()).toEqual([]);
  }, 180_000);
});
