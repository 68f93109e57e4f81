import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { SqliteStore } from '../../../src/store/sqlite.js';
import type { WatchEvent } from '../../../src/store/types.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const writer = join(here, 'fixtures', 'crash-writer.ts');

interface Ack {
  name: string;
  rv: string;
  spec: Record<string, unknown>;
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-crash-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the writer until it has acknowledged `wanted` writes, then kills it with SIGKILL mid-flight. */
function writeThenKill(path: string, wanted: number): Promise<Ack[]> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', writer, path], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const acks: Ack[] = [];
    let buffered = '';
    let stderr = '';
    let killed = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        acks.push(JSON.parse(buffered.slice(0, nl)) as Ack);
        buffered = buffered.slice(nl + 1);
      }
      if (!killed && acks.length >= wanted) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal === 'SIGKILL' && killed) resolvePromise(acks);
      else reject(new Error(`writer exited early (code ${code}, signal ${signal}): ${stderr}`));
    });
  });
}

it('keeps every acknowledged write after kill -9, and carries on numbering from there', async () => {
  const path = join(dir, 'db', 'berth.db');
  const acks = await writeThenKill(path, 600);
  expect(acks.length).toBeGreaterThanOrEqual(600);

  const store = new SqliteStore(path);
  try {
    const lastAcked = Math.max(...acks.map((a) => Number(a.rv)));
    expect(await store.revision()).toBeGreaterThanOrEqual(lastAcked);

    const latest = new Map<string, Ack>();
    for (const a of acks) latest.set(a.name, a);
    for (const [name, ack] of latest) {
      const got = await store.get({ resource: 'berth.dev/containers', namespace: 'default', name });
      expect(got, `${name} acknowledged at revision ${ack.rv}`).toBeDefined();
      if (name === 'counter') {
        // A later, unacknowledged increment may have committed just before the kill.
        expect(Number(got?.metadata.resourceVersion)).toBeGreaterThanOrEqual(Number(ack.rv));
        expect((got?.spec as { count: number }).count).toBeGreaterThanOrEqual((ack.spec as { count: number }).count);
      } else {
        expect(got?.metadata.resourceVersion).toBe(ack.rv);
        expect(got?.spec).toEqual(ack.spec);
      }
    }

    // History survived as well: a watch from 0 replays every acknowledged revision, in order.
    const revisions: number[] = [];
    const current = await store.revision();
    await new Promise<void>((done, fail) => {
      store
        .watch('berth.dev/containers', { fromRevision: 0 }, (e: WatchEvent) => {
          revisions.push(e.revision);
          if (e.revision === current) done();
        })
        .catch(fail);
    });
    for (const a of acks) expect(revisions).toContain(Number(a.rv));
    expect(revisions).toEqual([...revisions].sort((x, y) => x - y));

    const next = await store.create(
      { resource: 'berth.dev/containers', namespace: 'default', name: 'after-crash' },
      { apiVersion: 'berth.dev/v1alpha1', kind: 'Container', metadata: { name: 'after-crash', namespace: 'default' } },
    );
    expect(Number(next.metadata.resourceVersion)).toBe(current + 1);
  } finally {
    await store.close();
  }
});
