/** Streaming exec on real runc: pipes, a terminal with resize, and killing leaves nothing behind. */
import { execFileSync } from 'node:child_process';
import { readdir, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runtime } from '../../../src/runtime/index.js';
import { busyboxTarball, cgroupsUnder, makeTempRoot, removeCgroupParent, runtimeSkipReason } from './helpers.js';

const skip = runtimeSkipReason();
if (skip) console.warn(`skipping runtime exec stream tests: ${skip}`);

const CGROUP_PARENT = `berth-test-exec-${process.pid}`;

/** Everything a stream says, as it comes. */
function collect(r: Readable | undefined): { text: () => string; done: Promise<void> } {
  let text = '';
  r?.on('data', (d: Buffer) => (text += d.toString()));
  return { text: () => text, done: r ? new Promise((resolve) => r.once('end', () => resolve())) : Promise.resolve() };
}

/** `runc exec` processes for a container still on the host. */
function runcExecsOf(id: string): string[] {
  return execFileSync('ps', ['-eo', 'args']).toString().split('\n').filter((l) => l.includes(' exec ') && l.includes(id));
}

describe.skipIf(skip !== undefined)('streaming exec on runc', () => {
  let root: string;
  let rt: Runtime;
  let id: string;

  beforeAll(async () => {
    root = await makeTempRoot('exec-stream');
    rt = new Runtime({ root, cgroupParent: CGROUP_PARENT });
    const tarball = await busyboxTarball(root, async (r) => {
      for (const a of ['tty', 'stty']) await symlink('busybox', join(r, 'bin', a));
    });
    await rt.importImage(tarball, { ref: 'test/busybox' });
    id = (await rt.containers.create({ image: 'test/busybox', command: ['sleep', '1000'], stopTimeoutSeconds: 1 })).id;
    await rt.tasks.start(id);
  });

  afterAll(async () => {
    await rt.containers.remove(id, { force: true, volumes: true }).catch(() => undefined);
    expect(await cgroupsUnder(CGROUP_PARENT)).toEqual([]);
    // runc's delete of the exited container may still run: it would make its root again under a removed one
    await rt.close();
    await removeCgroupParent(CGROUP_PARENT);
    await rm(root, { recursive: true, force: true });
  });

  const execFiles = () => readdir(rt.containers.records.paths(id).execDir);

  it('pipes stdin in and stdout and stderr out separately, with the exit code', async () => {
    const s = await rt.tasks.execStream(id, { cmd: ['sh', '-c', 'cat; echo err >&2; exit 3'] });
    const out = collect(s.stdout);
    const err = collect(s.stderr);
    s.stdin.write('hello ');
    s.stdin.end('world\n');
    expect(await s.exited).toBe(3);
    await Promise.all([out.done, err.done]);
    expect(out.text()).toBe('hello world\n');
    expect(err.text()).toBe('err\n');
    expect(await execFiles()).toEqual([]);
  });

  it('gives the process a terminal that follows resizes', async () => {
    const s = await rt.tasks.execStream(id, { cmd: ['sh', '-c', 'tty; while read line; do stty size; done'], tty: { cols: 80, rows: 24 } });
    expect(s.stderr).toBeUndefined();
    const out = collect(s.stdout);
    await expect.poll(() => out.text(), { timeout: 10_000 }).toMatch(/^\/dev\/pts\/\d+\r\n/);
    s.resize({ cols: 123, rows: 45 });
    // runc passes the resize on asynchronously: ask again until the container's terminal has it
    await expect
      .poll(
        () => {
          s.stdin.write('\n');
          return out.text();
        },
        { timeout: 10_000, interval: 200 },
      )
      .toContain('45 123\r\n');
    s.kill();
    expect(await s.exited).toBe(137);
    expect(await execFiles()).toEqual([]);
  });

  it.each([
    ['without a tty', undefined],
    ['with a tty', { cols: 80, rows: 24 }],
  ])('kill() %s ends the process, its children and runc', async (_name, tty) => {
    const s = await rt.tasks.execStream(id, { cmd: ['sh', '-c', 'sleep 1001 & sleep 1002; wait'], ...(tty ? { tty } : {}) });
    const top = async () => (await rt.tasks.top(id)).map((p) => p.command);
    await expect.poll(top, { timeout: 10_000 }).toContain('sleep 1002');
    expect(runcExecsOf(id)).toHaveLength(1);
    s.kill();
    expect(await s.exited).toBe(137);
    expect(runcExecsOf(id)).toEqual([]);
    expect((await top()).filter((c) => /^sleep 100[12]/.test(c))).toEqual([]);
    expect(await execFiles()).toEqual([]);
  });

  it("reports a process that cannot start as runc's error, not as the process's output and exit code", async () => {
    for (const tty of [undefined, { cols: 80, rows: 24 }]) {
      const s = await rt.tasks.execStream(id, { cmd: ['no-such-command'], ...(tty ? { tty } : {}) });
      const out = collect(s.stdout);
      const err = collect(s.stderr);
      await expect(s.exited).rejects.toMatchObject({ code: 'Failed', message: expect.stringMatching(/^exec failed: .*"no-such-command": executable file not found/) });
      await Promise.all([out.done, err.done]);
      expect([out.text(), err.text()]).toEqual(['', '']);
    }
    // a process that starts and exits 255 is just that
    expect(await rt.tasks.exec(id, { cmd: ['sh', '-c', 'exit 255'] })).toEqual({ exitCode: 255, stdout: '', stderr: '', truncated: false });
    expect(await execFiles()).toEqual([]);
  });

  it('refuses a container that is not running, and an empty command', async () => {
    await expect(rt.tasks.execStream(id, { cmd: [] })).rejects.toThrow(/needs a command/);
    const stopped = (await rt.containers.create({ image: 'test/busybox', command: ['true'] })).id;
    await expect(rt.tasks.execStream(stopped, { cmd: ['true'] })).rejects.toMatchObject({ code: 'Conflict' });
    await rt.containers.remove(stopped);
  });
});
