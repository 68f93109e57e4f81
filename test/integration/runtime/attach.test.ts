/** Attach through conmon's attach socket on real runc: output from the first byte, stdin, a terminal with resize. */
import { rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runtime } from '../../../src/runtime/index.js';
import { busyboxTarball, cgroupsUnder, makeTempRoot, removeCgroupParent, runtimeSkipReason } from './helpers.js';

const skip = runtimeSkipReason();
if (skip) console.warn(`skipping runtime attach tests: ${skip}`);

const CGROUP_PARENT = `berth-test-attach-${process.pid}`;

function collect(r: Readable): { text: () => string; done: Promise<void> } {
  let text = '';
  r.on('data', (d: Buffer) => (text += d.toString()));
  return { text: () => text, done: new Promise((resolve) => r.once('end', () => resolve())) };
}

describe.skipIf(skip !== undefined)('attach on runc', () => {
  let root: string;
  let rt: Runtime;
  const made: string[] = [];

  beforeAll(async () => {
    root = await makeTempRoot('attach');
    rt = new Runtime({ root, cgroupParent: CGROUP_PARENT });
    const tarball = await busyboxTarball(root, async (r) => {
      for (const a of ['tty', 'stty', 'printf']) await symlink('busybox', join(r, 'bin', a));
    });
    await rt.importImage(tarball, { ref: 'test/busybox' });
  });

  afterAll(async () => {
    for (const id of made) await rt.containers.remove(id, { force: true, volumes: true }).catch(() => undefined);
    await rt.close();
    expect(await cgroupsUnder(CGROUP_PARENT)).toEqual([]);
    await removeCgroupParent(CGROUP_PARENT);
    await rm(root, { recursive: true, force: true });
  });

  const create = async (o: { command: string[]; tty?: boolean; stdin?: boolean; stdinOnce?: boolean }): Promise<string> => {
    const rec = await rt.containers.create({ image: 'test/busybox', stopTimeoutSeconds: 1, ...o });
    made.push(rec.id);
    return rec.id;
  };

  it('an attach made before the start gets every byte, stdout and stderr apart, without a trailing newline', async () => {
    const id = await create({ command: ['sh', '-c', 'echo out; echo err >&2; printf tail'] });
    const a = await rt.tasks.attach(id);
    const out = collect(a.stdout);
    const err = collect(a.stderr);
    await rt.tasks.start(id);
    await a.ended;
    await Promise.all([out.done, err.done]);
    expect(out.text()).toBe('out\ntail');
    expect(err.text()).toBe('err\n');
    expect(await rt.tasks.wait(id)).toBe(0);
  });

  it("stdin reaches the process and its end closes the process's stdin (stdinOnce)", async () => {
    const id = await create({ command: ['sh', '-c', 'cat; echo done; exit 4'], stdin: true, stdinOnce: true });
    const a = await rt.tasks.attach(id);
    const out = collect(a.stdout);
    // written before the start: held until the attach connects
    a.stdin.write('hello ');
    await rt.tasks.start(id);
    a.stdin.end('world\n');
    await a.ended;
    await out.done;
    expect(out.text()).toBe('hello world\ndone\n');
    expect(await rt.tasks.wait(id)).toBe(4);
  });

  it('a terminal: one output stream, TERM set, resizes reach the process; detaching leaves it running', async () => {
    const id = await create({ command: ['sh', '-c', 'echo $TERM; tty; while read l; do stty size; done'], tty: true, stdin: true });
    const a = await rt.tasks.attach(id);
    const out = collect(a.stdout);
    await rt.tasks.start(id);
    await a.connected;
    await expect.poll(() => out.text(), { timeout: 10_000 }).toMatch(/^xterm\r\n\/dev\/pts\/\d+\r\n/);
    a.resize({ cols: 101, rows: 33 });
    await expect
      .poll(
        () => {
          a.stdin.write('\n');
          return out.text();
        },
        { timeout: 10_000, interval: 200 },
      )
      .toContain('33 101');
    a.close();
    await a.ended;
    expect((await rt.tasks.state(id)).status).toBe('running');
    // a second attach to the running container gets what it prints from now on
    const b = await rt.tasks.attach(id);
    const out2 = collect(b.stdout);
    b.stdin.write('\n');
    await expect.poll(() => out2.text(), { timeout: 10_000 }).toContain('33 101');
    b.close();
    await rt.tasks.stop(id, 0);
  });

  it('a waiting attach given up is not connected at the next start', async () => {
    const id = await create({ command: ['sh', '-c', 'echo once'] });
    const a = await rt.tasks.attach(id);
    a.close();
    await expect(a.connected).rejects.toThrow(/closed before/);
    await a.ended;
    const b = await rt.tasks.attach(id);
    const out = collect(b.stdout);
    await rt.tasks.start(id);
    await b.ended;
    expect(out.text()).toBe('once\n');
    expect(await rt.tasks.wait(id)).toBe(0);
  });

  it('attaches 20 times in a row to containers that exit at once and loses no output', async () => {
    for (let i = 0; i < 20; i++) {
      const id = await create({ command: ['sh', '-c', `echo out${i}; echo err${i} >&2; printf tail`] });
      const a = await rt.tasks.attach(id);
      const out = collect(a.stdout);
      const err = collect(a.stderr);
      await rt.tasks.start(id);
      await Promise.all([out.done, err.done]);
      expect([out.text(), err.text()]).toEqual([`out${i}\ntail`, `err${i}\n`]);
      await rt.containers.remove(id, { force: true, volumes: true });
    }
  });
});
