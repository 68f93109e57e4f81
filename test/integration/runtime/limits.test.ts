/**
 * Issue 17, findings 7 and 8 (runtime part): a container's log stays within its cap (conmon's
 * --log-size-max, the replaced files kept as rotation), `logs --tail` reads from the end, and a
 * buffered exec keeps at most its limit of output, whatever the container writes.
 */
import { open, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runtime } from '../../../src/runtime/index.js';
import { EXEC_OUTPUT_LIMIT } from '../../../src/runtime/containers/exec-stream.js';
import type { LogLine } from '../../../src/runtime/containers/logs.js';
import { busyboxTarball, makeTempRoot, removeRuntimeTestRoot, runtimeSkipReason } from './helpers.js';

const skip = runtimeSkipReason();
const CGROUP_PARENT = `berth-test-limits-${process.pid}`;
const MiB = 1 << 20;

async function collect(it: AsyncIterable<LogLine>): Promise<LogLine[]> {
  const out: LogLine[] = [];
  for await (const l of it) out.push(l);
  return out;
}

/** The highest RSS of this process while `fn` runs, above what it was before (sampled every 5 ms). */
async function peakRssGrowth<T>(fn: () => Promise<T>): Promise<{ result: T; growth: number }> {
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  try {
    const result = await fn();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, growth: peak - before };
  } finally {
    clearInterval(timer);
  }
}

describe.skipIf(skip !== undefined)('bounded logs and exec output', () => {
  let root: string;
  let rt: Runtime;

  beforeAll(async () => {
    root = await makeTempRoot('limits');
    rt = new Runtime({ root, cgroupParent: CGROUP_PARENT });
    await rt.importImage(await busyboxTarball(root), { ref: 'test/busybox' });
  });

  afterAll(async () => {
    await removeRuntimeTestRoot(rt, root, CGROUP_PARENT);
  });

  /** The log's files (ctr.log.keep, a second link to the current file, is not a file of its own). */
  async function logFiles(id: string): Promise<Array<{ name: string; size: number; ino: number }>> {
    const log = (await rt.containers.inspect(id)).LogPath as string;
    const names = (await readdir(dirname(log))).filter((n) => n.startsWith(basename(log)));
    const files = await Promise.all(names.map(async (name) => ({ name, ...(await stat(join(dirname(log), name))) })));
    return files.filter((f, i) => files.findIndex((g) => g.ino === f.ino) === i).map((f) => ({ name: f.name, size: f.size, ino: f.ino }));
  }

  it('a container writing 40 MB fast keeps its log within max-size × max-file, rotated, newest lines readable', async () => {
    const c = await rt.containers.create({
      image: 'test/busybox',
      command: ['sh', '-c', 'yes 0123456789012345678901234567890123456789012345678901234567890123456789 | head -c 40000000; echo; echo last-line'],
      log: { maxSizeBytes: MiB, maxFiles: 3 },
    });
    await rt.tasks.start(c.id);
    expect(await rt.tasks.wait(c.id)).toBe(0);
    // reading settles a rotation conmon made after the last one the watch saw
    expect((await collect(rt.tasks.logs(c.id, { tail: 1 }))).map((l) => l.line)).toEqual(['last-line']);
    const files = await logFiles(c.id);
    const total = files.reduce((n, f) => n + f.size, 0);
    // conmon starts a new file before a line would pass the cap; a line is at most its 8 KiB read plus the prefix
    for (const f of files) expect(f.size, f.name).toBeLessThanOrEqual(MiB + 8300);
    expect(total).toBeLessThanOrEqual(3 * (MiB + 8300));
    // the file conmon replaced first was kept as history, not lost to truncation
    expect(files.map((f) => f.name).sort()).toEqual(expect.arrayContaining(['ctr.log', 'ctr.log.1']));
    const all = await collect(rt.tasks.logs(c.id));
    expect(all.length).toBeGreaterThan(20_000); // more than one file's worth is read back, oldest first
    expect(all.at(-1)?.line).toBe('last-line');
    await rt.containers.remove(c.id);
  });

  it('logs --tail 1 of a 150 MB log reads from the end: memory stays flat', async () => {
    const c = await rt.containers.create({ image: 'test/busybox', command: ['true'], log: { maxSizeBytes: 512 * MiB, maxFiles: 1 } });
    await rt.tasks.start(c.id);
    await rt.tasks.wait(c.id);
    const log = (await rt.containers.inspect(c.id)).LogPath as string;
    const line = `2026-01-01T00:00:00.000000000Z stdout F ${'x'.repeat(1000)}\n`;
    const block = line.repeat(1024);
    const fh = await open(log, 'w');
    for (let i = 0; i < 150; i++) await fh.write(block);
    await fh.write('2026-01-01T00:00:01.000000000Z stdout P the-last-\n2026-01-01T00:00:01.000000000Z stdout F line\n');
    await fh.close();
    const { result, growth } = await peakRssGrowth(() => collect(rt.tasks.logs(c.id, { tail: 1 })));
    expect(result.map((l) => l.line)).toEqual(['the-last-line']);
    expect(growth).toBeLessThan(30 * MiB);
    const two = await collect(rt.tasks.logs(c.id, { tail: 2 }));
    expect(two.map((l) => l.line.length)).toEqual([1000, 'the-last-line'.length]);
    await rt.containers.remove(c.id);
  });

  it('a buffered exec of 100 MB of output keeps its limit and says what it cut', async () => {
    const c = await rt.containers.create({ image: 'test/busybox', command: ['sleep', '1000'] });
    await rt.tasks.start(c.id);
    const { result, growth } = await peakRssGrowth(() => rt.tasks.exec(c.id, { cmd: ['sh', '-c', 'yes 0123456789 | head -c 100000000; echo done >&2'] }));
    expect(result.exitCode).toBe(0);
    expect(result.truncated).toBe(true);
    expect(result.stdout.length).toBeLessThan(EXEC_OUTPUT_LIMIT + 200);
    expect(result.stdout).toMatch(/\[berth: output cut after 4194304 bytes; 95805696 more bytes were dropped\]\n$/);
    expect(result.stderr).toBe('done\n');
    expect(growth).toBeLessThan(80 * MiB);
    await rt.containers.remove(c.id, { force: true });
  });
});
