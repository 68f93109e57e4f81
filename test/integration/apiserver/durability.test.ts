import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from '../../helpers/server-process.js';

const BASE = '/apis/berth.dev/v1alpha1/namespaces/default/volumes';

describe('berth server durability', () => {
  let dataDir = '';
  let server: ServerProcess | undefined;
  afterAll(async () => {
    await server?.kill('SIGKILL');
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps every acknowledged write across kill -9', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'berth-durable-'));
    server = await startServerProcess(dataDir);
    const s = server;
    const acked = new Map<string, string>();
    let stop = false;
    // Four writers in parallel so the kill lands while writes are in flight.
    const writer = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const name = `v-${w}-${i}`;
        try {
          const res = await s.api(BASE, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ apiVersion: 'berth.dev/v1alpha1', kind: 'Volume', metadata: { name, labels: { writer: String(w) } }, spec: {} }),
          });
          if (res.status !== 201) throw new Error(`create ${name}: ${res.status} ${await res.text()}`);
          const obj = (await res.json()) as { metadata: { uid: string } };
          acked.set(name, obj.metadata.uid);
        } catch (err) {
          if (!stop) console.error(String(err));
          break;
        }
      }
    };
    const writers = [0, 1, 2, 3].map(writer);
    await expect.poll(() => acked.size >= 200, { timeout: 60_000 }).toBe(true);
    await s.kill('SIGKILL');
    stop = true;
    await Promise.all(writers);

    server = await startServerProcess(dataDir);
    const list = (await (await server.api(BASE)).json()) as { items: { metadata: { name: string; uid: string } }[] };
    const stored = new Map(list.items.map((i) => [i.metadata.name, i.metadata.uid]));
    for (const [name, uid] of acked) expect(stored.get(name), name).toBe(uid);
    expect(acked.size).toBeGreaterThanOrEqual(200);
  });
});
