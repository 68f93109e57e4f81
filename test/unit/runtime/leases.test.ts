import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContentStore } from '../../../src/runtime/content/store.js';
import { GarbageCollector } from '../../../src/runtime/gc/collector.js';
import { leasesFor } from '../../../src/runtime/gc/leases.js';
import { SnapshotStore } from '../../../src/runtime/snapshots/store.js';

const startOf = (pid: number): string => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] as string;
};

describe('leases and the garbage collector', () => {
  let root: string;
  let content: ContentStore;
  let gc: GarbageCollector;
  /** Blobs an "image" references. */
  const rooted = new Set<string>();

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-leases-'));
    const leases = leasesFor(root);
    content = new ContentStore(root, leases);
    const snapshots = new SnapshotStore(root, { leases });
    rooted.clear();
    gc = new GarbageCollector({ root, content, snapshots, leases, roots: async () => ({ blobs: new Set(rooted), layers: new Set() }) });
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const leaseFile = async (blob: string, pid: number, pidStart: string, expiresAt: string): Promise<string> => {
    await mkdir(join(root, 'leases'), { recursive: true });
    const path = join(root, 'leases', `${randomBytes(8).toString('hex')}.json`);
    await writeFile(path, JSON.stringify({ id: 'x', label: 'pull', pid, pidStart, created: new Date().toISOString(), expiresAt, blobs: [blob], layers: [] }));
    return path;
  };

  it('a lease holds what its work writes and finds while collections run, and nothing once it ends', async () => {
    const leases = leasesFor(root);
    const old = await content.putBuffer(Buffer.from('already there'));
    let writing = true;
    let collectorStopped!: () => void;
    const stopped = new Promise<void>((r) => (collectorStopped = r));
    const written: string[] = [];
    let heldOld!: () => void;
    const oldHeld = new Promise<void>((r) => (heldOld = r));
    const work = leases.withLease('test', async () => {
      expect(await content.has(old)).toBe(true); // found: held from now on
      heldOld();
      for (let i = 0; i < 40; i++) written.push(await content.putBuffer(randomBytes(64 * 1024)));
      writing = false;
      await stopped; // the lease outlives every collection below
      for (const d of [old, ...written]) expect(await content.has(d)).toBe(true);
    });
    // `old` is garbage until the work finds it: a collection before that may rightly sweep it
    await oldHeld;
    let passes = 0;
    while (writing) {
      expect((await gc.collect()).blobs).toEqual([]);
      passes++;
    }
    collectorStopped();
    await work;
    expect(passes).toBeGreaterThan(0);
    expect(await readdir(join(root, 'leases'))).toEqual([]);
    rooted.add(written[0] as string);
    const swept = await gc.collect();
    expect(swept.blobs.sort()).toEqual([old, ...written.slice(1)].sort());
    expect(await content.list()).toEqual([written[0]]);
  });

  it("a crashed process's lease, or an expired one, pins nothing; a live process's lease does", async () => {
    const dead = spawn(process.execPath, ['-e', '']);
    const deadPid = dead.pid as number;
    const deadStart = startOf(deadPid);
    await new Promise((r) => dead.on('exit', r));
    const live = spawn('sleep', ['30']);
    const livePid = live.pid as number;
    try {
      const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((s) => content.putBuffer(Buffer.from(s))));
      const later = new Date(Date.now() + 3_600_000).toISOString();
      const fromDead = await leaseFile(a as string, deadPid, deadStart, later);
      const expired = await leaseFile(b as string, livePid, startOf(livePid), new Date(Date.now() - 1000).toISOString());
      const fromLive = await leaseFile(c as string, livePid, startOf(livePid), later);
      expect((await gc.collect()).blobs.sort()).toEqual([a, b].sort());
      expect(await content.list()).toEqual([c]);
      const left = await readdir(join(root, 'leases'));
      expect(left).toEqual([fromLive.split('/').pop()]);
      expect(left).not.toContain(fromDead.split('/').pop());
      expect(left).not.toContain(expired.split('/').pop());
    } finally {
      live.kill('SIGKILL');
    }
  });
});
