import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runtime } from '../../../src/runtime/index.js';
import { busyboxTarball, cgroupsUnder, makeTempRoot, mountsUnder, removeCgroupParent, runtimeSkipReason } from './helpers.js';

const skip = runtimeSkipReason();
if (skip) console.warn(`skipping runtime restart-safety test: ${skip}`);

const CGROUP_PARENT = `berth-test-rs-${process.pid}`;

describe.skipIf(skip !== undefined)('restart safety', () => {
  let root: string;

  beforeAll(async () => {
    root = await makeTempRoot('restart');
    const rt = new Runtime({ root, cgroupParent: CGROUP_PARENT });
    await rt.importImage(await busyboxTarball(root), { ref: 'test/busybox' });
  });

  afterAll(async () => {
    const rt = new Runtime({ root, cgroupParent: CGROUP_PARENT });
    for (const c of await rt.containers.list({ all: true })) await rt.containers.remove(c.id, { force: true });
    await rt.close(); // runc's delete of an exited container may still run (tasks.ts forget())
    expect(mountsUnder(root)).toEqual([]);
    expect(await cgroupsUnder(CGROUP_PARENT)).toEqual([]);
    await removeCgroupParent(CGROUP_PARENT);
    await rm(root, { recursive: true, force: true });
  });

  it('containers outlive a SIGKILLed driver; a new Runtime adopts them and sees exits that happened meanwhile', async () => {
    const driver = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'drive-runtime.ts'), root, CGROUP_PARENT], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const ids = await new Promise<string[]>((resolve, reject) => {
      let out = '';
      driver.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0] as string) as string[]);
      });
      driver.on('exit', (code) => reject(new Error(`driver exited early (${code})`)));
    });
    const exited = new Promise((r) => driver.on('exit', r));
    driver.kill('SIGKILL');
    await exited;
    const [survivor, diesLater] = ids as [string, string];

    // with no Runtime alive, one container's process is killed from outside
    const rt0 = new Runtime({ root, cgroupParent: CGROUP_PARENT });
    const pid = Number((await rt0.containers.records.readState(diesLater)).pid);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGKILL');
    const exitFile = rt0.containers.records.paths(diesLater).exitFile;
    while (!existsSync(exitFile)) await new Promise((r) => setTimeout(r, 50));

    const rt = new Runtime({ root, cgroupParent: CGROUP_PARENT });
    expect((await rt.tasks.state('survivor')).status).toBe('running');
    const ex = await rt.tasks.exec(survivor, { cmd: ['echo', 'still here'] });
    expect(ex).toMatchObject({ exitCode: 0, stdout: 'still here\n' });
    expect(await rt.tasks.state('dies-later')).toMatchObject({ status: 'exited', exitCode: 137 });
    expect((await rt.containers.list()).map((c) => c.name)).toEqual(['survivor']);
    await rt.tasks.stop(survivor, 1);
    expect((await rt.tasks.state(survivor)).status).toBe('exited');
  });
});
