/**
 * Issue 17, finding 10 (runtime side): after kill -9 at any point, the next owner's crash sweep
 * removes every container directory, snapshot, mount, cgroup, name file and temporary file without a
 * live owner, and a name held by a create that died is free again (it stayed "already in use").
 */
import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runtime } from '../../../src/runtime/index.js';
import { leftovers } from '../../helpers/leftovers.js';
import { busyboxTarball, makeTempRoot, removeRuntimeTestRoot, runtimeSkipReason } from './helpers.js';

const skip = runtimeSkipReason();
const CGROUP_PARENT = `berth-test-sweep-${process.pid}`;
const KILLS = 12;

describe.skipIf(skip !== undefined)('crash sweep', () => {
  let work: string;
  let root: string;
  let rt: Runtime;

  beforeAll(async () => {
    work = await makeTempRoot('sweep');
    root = join(work, 'root');
    rt = new Runtime({ root, cgroupParent: CGROUP_PARENT });
    await rt.importImage(await busyboxTarball(work), { ref: 'test/busybox' });
  });

  afterAll(async () => {
    await removeRuntimeTestRoot(rt, root, CGROUP_PARENT);
    await rm(work, { recursive: true, force: true });
  });

  it('a name whose create died before its record is free again; its directory is swept', async () => {
    // the state a create leaves when killed between reserving the name and writing the record:
    // its directory (with the marker of a process that no longer runs) and the name file
    const id = 'ab'.repeat(32);
    const dir = join(root, 'containers', id);
    await mkdir(join(dir, 'exits'), { recursive: true });
    await writeFile(join(dir, 'creating'), JSON.stringify({ pid: 999_999_999, start: '1' }));
    await mkdir(join(root, 'container-names'), { recursive: true });
    await writeFile(join(root, 'container-names', 'stuck'), id);
    const c = await rt.containers.create({ image: 'test/busybox', name: 'stuck', command: ['true'] });
    expect(c.name).toBe('stuck');
    await rt.containers.remove(c.id);
    await writeFile(join(root, 'container-names', 'stuck'), id);
    const report = await rt.recover();
    expect(report.containers).toEqual([id]);
    expect(report.names).toEqual(['stuck']);
    expect(await leftovers(root, CGROUP_PARENT)).toMatchObject({ containers: [], names: [], mounts: [], cgroups: [] });
  });

  it(`kill -9 of a process churning containers at ${KILLS} random moments: after the sweep nothing is left and every name is free`, async () => {
    await rt.volumes.create('churn-vol');
    for (let k = 0; k < KILLS; k++) {
      // one process (node with tsx's loader), so that SIGKILL ends the churn itself
      const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'fixtures', 'churn-runtime.ts'), root, CGROUP_PARENT, '4'], { stdio: ['ignore', 'pipe', 'ignore'] });
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
        child.once('exit', (code) => reject(new Error(`churn exited ${code}`)));
      });
      // a random moment within the first second or so of churn
      await new Promise((r) => setTimeout(r, 50 + Math.floor(Math.random() * 1200)));
      const gone = new Promise((r) => child.once('exit', r));
      process.kill(child.pid!, 'SIGKILL');
      await gone;
    }
    const report = await rt.recover();
    // what is left is owned: containers with a record (started or not), nothing else
    const recs = await rt.containers.list({ all: true });
    for (const r of recs) await rt.containers.remove(r.id, { force: true });
    for (let n = 0; n < 4; n++) {
      const c = await rt.containers.create({ image: 'test/busybox', name: `churn-${n}`, command: ['true'] });
      await rt.containers.remove(c.id);
    }
    await rt.volumes.remove('churn-vol', { force: true });
    const left = await leftovers(root, CGROUP_PARENT);
    expect(left, JSON.stringify(report)).toEqual({ mounts: [], cgroups: [], containers: [], names: [], temporary: [] });
  });
});
