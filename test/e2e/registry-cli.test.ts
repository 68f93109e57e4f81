/**
 * The registry verbs of the berth CLI, each run as its own process as a user would:
 * `berth registry` (with a user), login/logout, tag, push, images, search, pull. The image verbs
 * talk to a node through its API server: each data dir (node, other) is a running `berth server`
 * whose kubeconfig the CLI finds in DIR/kubeconfig.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { berthArgv, ROOT } from '../helpers/berth-bin.js';
import { run, type RunResult } from '../helpers/run.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { freePort, http } from '../integration/registry/helpers.js';
import { busyboxTarball, makeTempRoot, removeCgroupParent, runtimeSkipReason } from '../integration/runtime/helpers.js';


describe.skipIf(runtimeSkipReason() !== undefined)('berth registry CLI verbs', () => {
  let work: string;
  let registry: ChildProcess | undefined;
  let host: string;
  let env: NodeJS.ProcessEnv;
  const servers: ServerProcess[] = [];
  const cgroupParent = `berth-registry-cli-${process.pid}`;

  // the built CLI, as a user runs it (through tsx every call paid a compile: 32 s for this test alone)
  const berth = (args: string[], input?: string): Promise<RunResult> => {
    const [cmd, argv] = berthArgv(args);
    return run(cmd, argv, { cwd: ROOT, env, input, timeoutMs: 60_000 });
  };

  beforeAll(async () => {
    work = await makeTempRoot('registry-cli');
    env = { ...process.env, NODE_NO_WARNINGS: '1', BERTH_CONFIG: join(work, 'client-config') };
    const add = await berth(['registry', '--data-dir', join(work, 'reg'), '--add-user', 'alice'], 'pw-alice\n');
    expect(add.code).toBe(0);
    const port = await freePort();
    host = `127.0.0.1:${port}`;
    const [regCmd, regArgv] = berthArgv(['registry', '--data-dir', join(work, 'reg'), '--listen', host]);
    registry = spawn(regCmd, regArgv, { cwd: ROOT, env, stdio: 'ignore' });
    for (let i = 0; i < 200; i++) {
      const ok = await http(`http://${host}/v2/`).then(
        (r) => r.status === 401,
        () => false,
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // two nodes, each the agent of its own `berth server` (no registry of their own: the test's is the one)
    for (const dir of ['node', 'other']) servers.push(await startServerProcess(join(work, dir), ['--no-registry', '--cgroup-parent', cgroupParent]));
    // the node's image, imported through its API server
    const imported = await berth(['import', await busyboxTarball(work), 'busybox:latest', '--data-dir', join(work, 'node')]);
    expect(imported.code, imported.stderr).toBe(0);
  }, 90_000);

  afterAll(async () => {
    for (const s of servers) await s.kill('SIGTERM');
    await removeCgroupParent(cgroupParent);
    if (registry && registry.exitCode === null) {
      const exited = new Promise((r) => registry?.once('exit', r));
      registry.kill('SIGTERM');
      await exited;
    }
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('tags, refuses an anonymous push, logs in, pushes, searches, pulls elsewhere and logs out', async () => {
    const node = ['--data-dir', join(work, 'node')];
    expect((await berth(['tag', 'busybox:latest', `${host}/team/busybox:1.0`, ...node])).code).toBe(0);
    const images = await berth(['images', ...node]);
    expect(images.stdout.split('\n')[0]).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    expect(images.stdout).toContain(`${host}/team/busybox`);
    expect(images.stdout).toMatch(new RegExp(`${host}/team/busybox\\s+1\\.0\\s+[a-f0-9]{12}\\s+(Less than a second|1 second|\\d+ seconds|About a minute|\\d+ minutes) ago\\s+\\d+(\\.\\d+)?[kM]B`));
    const quiet = await berth(['images', '-q', ...node]);
    expect(quiet.stdout.trim().split('\n')).toHaveLength(1);
    expect(quiet.stdout.trim()).toMatch(/^[a-f0-9]{12}$/);
    expect((await berth(['images', '--filter', 'dangling=true', ...node])).stdout.trim().split('\n')).toHaveLength(1);

    const anon = await berth(['push', `${host}/team/busybox:1.0`, ...node]);
    expect(anon.code).toBe(1);
    expect(anon.stderr).toMatch(/401|UNAUTHORIZED|denied/i);

    const bad = await berth(['login', '-u', 'alice', '--password-stdin', host, ...node], 'nope\n');
    expect(bad.code).toBe(1);
    const login = await berth(['login', '-u', 'alice', '--password-stdin', host, ...node], 'pw-alice\n');
    expect(login.code).toBe(0);
    expect(login.stdout).toContain('Login Succeeded');
    const cfg = JSON.parse(await readFile(join(work, 'client-config', 'config.json'), 'utf8')) as { auths: Record<string, unknown> };
    expect(Object.keys(cfg.auths)).toContain(host);

    const push = await berth(['push', `${host}/team/busybox:1.0`, ...node]);
    expect(push.code).toBe(0);
    expect(push.stdout).toMatch(/^1\.0: digest: sha256:[a-f0-9]{64} size: \d+$/m);
    expect(push.stderr).toBe('');

    const search = await berth(['search', `${host}/busy`, ...node]);
    expect(search.stdout.trim().split('\n')).toEqual(['NAME', `${host}/team/busybox`]);

    const other = ['--data-dir', join(work, 'other')];
    const pull = await berth(['pull', `${host}/team/busybox:1.0`, ...other]);
    expect(pull.code).toBe(0);
    expect(pull.stdout).toMatch(/Status: Downloaded newer image for/);
    const again = await berth(['pull', `${host}/team/busybox:1.0`, ...other]);
    expect(again.stdout).toMatch(/Status: Image is up to date for/);
    expect((await berth(['images', ...other])).stdout).toContain(`${host}/team/busybox`);

    expect((await berth(['logout', host, ...node])).stdout).toContain('Removing login credentials');
    const afterLogout = await berth(['pull', `${host}/team/busybox:1.0`, ...other]);
    expect(afterLogout.code).toBe(1);
  });
});
