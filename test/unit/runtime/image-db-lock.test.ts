import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContentStore } from '../../../src/runtime/content/store.js';
import { ImageStore } from '../../../src/runtime/images/store.js';
import { SnapshotStore } from '../../../src/runtime/snapshots/store.js';

/** Starts fixture processes, lets them all load, then starts them at once; resolves when all have exited 0. */
async function runTogether(args: string[][]): Promise<void> {
  const script = join(import.meta.dirname, 'fixtures', 'tag-images.ts');
  const children = args.map((a) => spawn(process.execPath, ['--import', 'tsx', script, ...a], { stdio: ['pipe', 'pipe', 'inherit'] }));
  let ready = 0;
  let allReady!: () => void;
  const readies = new Promise<void>((r) => (allReady = r));
  const exits = children.map((c) => {
    c.stdout.once('data', () => ++ready === children.length && allReady());
    return new Promise<void>((resolve, reject) => c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`child exited ${code}`)))));
  });
  await readies;
  for (const c of children) c.stdin.end('go\n');
  await Promise.all(exits);
}

describe('image db', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-imagedb-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('loses no update when several processes write it at once (a cross-process lock around read-modify-write)', async () => {
    const images = new ImageStore(root, new ContentStore(root), new SnapshotStore(root));
    const config = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } };
    const id = await images.addImage(Buffer.from(JSON.stringify(config)), [], { names: ['test/base:1'] });
    await runTogether([0, 1, 2].map((p) => [root, id, `p${p}`, '40']));
    const names = await images.namesOf(id);
    expect(names).toHaveLength(1 + 3 * 40);
    for (const p of [0, 1, 2]) for (let i = 0; i < 40; i++) expect(names).toContain(`test/p${p}:${i}`);
  }, 60_000);
});
