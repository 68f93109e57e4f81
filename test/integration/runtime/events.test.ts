import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runtime, type ExitEvent } from '../../../src/runtime/index.js';
import { busyboxTarball, makeTempRoot, removeRuntimeTestRoot, runtimeSkipReason } from './helpers.js';

const skip = runtimeSkipReason();
if (skip) console.warn(`skipping runtime event tests: ${skip}`);

const CGROUP_PARENT = `berth-test-ev-${process.pid}`;

/** Collects exit events and lets a test wait for the next one of a container. */
function recorder(rt: Runtime): { events: ExitEvent[]; next: (id: string, n?: number) => Promise<ExitEvent>; stop: () => void } {
  const events: ExitEvent[] = [];
  const waiters: Array<() => void> = [];
  const stop = rt.tasks.onExit((e) => {
    events.push(e);
    for (const w of waiters.splice(0)) w();
  });
  const next = async (id: string, n = 1): Promise<ExitEvent> => {
    for (;;) {
      const mine = events.filter((e) => e.id === id);
      if (mine.length >= n) return mine[n - 1] as ExitEvent;
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  return { events, next, stop };
}

describe.skipIf(skip !== undefined)('runtime exit events and labelled list', () => {
  let root: string;
  let rt: Runtime;

  beforeAll(async () => {
    root = await makeTempRoot('events');
    rt = new Runtime({ root, cgroupParent: CGROUP_PARENT });
    await rt.importImage(await busyboxTarball(root), { ref: 'test/busybox' });
  });

  afterAll(async () => {
    await removeRuntimeTestRoot(rt, root, CGROUP_PARENT);
  });

  it('reports each exit once per run, with its code and labels', async () => {
    const r = recorder(rt);
    try {
      const c = await rt.containers.create({ image: 'test/busybox', command: ['sh', '-c', 'exit 7'], labels: { app: 'ev', run: 'once' } });
      const t0 = Date.now();
      await rt.tasks.start(c.id);
      const first = await r.next(c.id);
      console.log(`exit event ${Date.now() - t0} ms after start returned`);
      expect(first).toMatchObject({ id: c.id, name: c.name, exitCode: 7, oomKilled: false, labels: { app: 'ev', run: 'once' } });
      expect(first.finishedAt).toBeDefined();
      await rt.tasks.start(c.id);
      const second = await r.next(c.id, 2);
      expect(second.exitCode).toBe(7);
      expect(second.startedAt).not.toBe(first.startedAt);
      // looking at the container again (which observes it) reports nothing new
      expect((await rt.tasks.state(c.id)).status).toBe('exited');
      const other = await rt.containers.create({ image: 'test/busybox', command: ['true'] });
      await rt.tasks.start(other.id);
      await r.next(other.id);
      expect(r.events.filter((e) => e.id === c.id)).toHaveLength(2);
      await rt.containers.remove(c.id);
      await rt.containers.remove(other.id);
    } finally {
      r.stop();
    }
  });

  it('reports a stop and a kill from outside, and on subscribe the exits that happened while nobody listened', async () => {
    const a = await rt.containers.create({ image: 'test/busybox', name: 'ev-stopped', command: ['sleep', '1000'] });
    const b = await rt.containers.create({ image: 'test/busybox', name: 'ev-killed', command: ['sleep', '1000'] });
    await rt.tasks.start(a.id);
    const { pid } = await rt.tasks.start(b.id);
    const r = recorder(rt);
    try {
      await rt.tasks.stop(a.id, 0);
      expect((await r.next(a.id)).exitCode).toBe(137);
    } finally {
      r.stop();
    }
    // nobody listens to this runtime; a new one (an agent started again) hears of the exit on subscribe
    process.kill(pid, 'SIGKILL');
    const rt2 = new Runtime({ root, cgroupParent: CGROUP_PARENT });
    const r2 = recorder(rt2);
    try {
      expect(await r2.next(b.id)).toMatchObject({ name: 'ev-killed', exitCode: 137 });
      expect((await r2.next(a.id)).exitCode).toBe(137);
    } finally {
      r2.stop();
    }
    await rt.containers.remove(a.id);
    await rt.containers.remove(b.id);
  });

  it('lists by label with state, and gives stats by id', async () => {
    const web = await rt.containers.create({ image: 'test/busybox', command: ['sleep', '1000'], labels: { tier: 'web', owner: 'x' } });
    const db = await rt.containers.create({ image: 'test/busybox', command: ['sleep', '1000'], labels: { tier: 'db', owner: 'x' } });
    const plain = await rt.containers.create({ image: 'test/busybox', command: ['true'] });
    const { pid } = await rt.tasks.start(web.id);
    expect((await rt.containers.list({ labels: { tier: 'web' } })).map((c) => c.id)).toEqual([web.id]);
    expect((await rt.containers.list({ labels: { owner: true } })).map((c) => c.id)).toEqual([web.id]);
    const all = await rt.containers.list({ all: true, labels: { owner: true } });
    expect(all.map((c) => c.id).sort()).toEqual([web.id, db.id].sort());
    expect(all.find((c) => c.id === web.id)).toMatchObject({ status: 'running', pid, labels: { tier: 'web', owner: 'x' } });
    expect(all.find((c) => c.id === db.id)).toMatchObject({ status: 'created', pid: 0 });
    expect((await rt.containers.list({ all: true, labels: { owner: 'y' } })).length).toBe(0);
    const stats = await rt.tasks.stats(web.id);
    expect(stats.id).toBe(web.id);
    expect(stats.pids).toBeGreaterThanOrEqual(1);
    for (const c of [web, db, plain]) await rt.containers.remove(c.id, { force: true });
  });
});
