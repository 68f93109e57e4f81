/**
 * Watches with bounded memory (issue 17, finding 9): `berth apiserver` as a child process, 5 watch
 * clients that open a watch and then never read, and 300 events of 100 MB in all (Secrets of
 * 333 kB written again and again). Before, every event stayed queued for every stalled client
 * (the server's RSS grew by the whole 100 MB per client); now each stalled client is dropped once
 * it holds more than the per-watch buffer, the drop is counted in apiserver_watch_dropped_total,
 * and the server stays under 200 MB of RSS, read from /proc while the events are written. One
 * identity may hold at most --max-watches-per-user watches; one more is 429.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from '../../helpers/server-process.js';
import { WatchReader } from '../../helpers/watch-stream.js';

const SECRETS = '/api/v1/namespaces/default/secrets';
const EVENTS = 300;
const TOTAL_BYTES = 100 * 1024 * 1024;
const VALUE_BYTES = Math.floor(TOTAL_BYTES / EVENTS);
const STALLED = 5;

function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** A watch request on a raw TLS connection whose reader never reads: the client that stalls. */
function stalledWatch(server: ServerProcess, path: string): Promise<TLSSocket> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port), rejectUnauthorized: false }, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${server.token}\r\nAccept: application/json\r\n\r\n`);
      // read the response head, then stop reading for good
      socket.once('data', () => {
        socket.pause();
        resolve(socket);
      });
    });
    socket.on('error', () => undefined);
    socket.once('error', reject);
  });
}

async function metric(server: ServerProcess, name: string): Promise<number> {
  const text = await (await server.api('/metrics')).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.split(' ').pop());
  return sum;
}

describe('watch streams under stalled clients', () => {
  let dir: string;
  let server: ServerProcess;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-watch-limits-'));
    server = await startServerProcess(join(dir, 'data'), ['--max-watches-per-user', '12'], 'apiserver');
  });
  afterAll(async () => {
    await server?.kill();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('5 stalled watchers and 300 events of 100 MB keep the server under 200 MB RSS; each is dropped and counted', async () => {
    const pid = server.child.pid!;
    const before = rssBytes(pid);
    const sockets = await Promise.all(Array.from({ length: STALLED }, () => stalledWatch(server, `${SECRETS}?watch=true`)));
    const closed = sockets.map((s) => new Promise<void>((r) => s.once('close', () => r())));
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssBytes(pid));
    }, 20);
    const value = Buffer.alloc(Math.floor((VALUE_BYTES * 3) / 4), 'x').toString('base64');
    try {
      for (let i = 0; i < EVENTS; i++) {
        const name = `big-${i % 10}`;
        const body = { apiVersion: 'v1', kind: 'Secret', metadata: { name }, data: { v: value, n: Buffer.from(String(i)).toString('base64') } };
        const res = i < 10
          ? await server.api(SECRETS, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
          : await server.api(`${SECRETS}/${name}`, { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, body: JSON.stringify({ data: body.data }) });
        expect(res.status).toBeLessThan(300);
        // read the answer: an unread one keeps its connection busy, and the next request opens another
        await res.arrayBuffer();
        peak = Math.max(peak, rssBytes(pid));
      }
    } finally {
      clearInterval(sampler);
    }
    console.log(`stalled watchers: server RSS ${(before / 2 ** 20).toFixed(0)} MB before, peak ${(peak / 2 ** 20).toFixed(0)} MB during ${EVENTS} events of ${(TOTAL_BYTES / 2 ** 20).toFixed(0)} MB with ${STALLED} stalled watchers`);
    expect(peak).toBeLessThan(200 * 1024 * 1024);
    // each stalled client is dropped once it has left a full buffer unread for the stall timeout
    await expect.poll(() => metric(server, "apiserver_watch_dropped_total"), { timeout: 60_000, interval: 500 }).toBeGreaterThanOrEqual(STALLED);
    // a dropped client, reading again, finds the end of the stream: it must list and watch again
    for (const s of sockets) s.resume();
    await Promise.all(closed);
  }, 120_000);

  it('a client that reads late, within the stall timeout, still gets every event once and in order (the watch pauses, then resumes from history)', async () => {
    const list = (await (await server.api(SECRETS)).json()) as { metadata: { resourceVersion: string } };
    const reader = new WatchReader(await server.api(`${SECRETS}?watch=true&resourceVersion=${list.metadata.resourceVersion}&labelSelector=late%3Dyes`));
    const value = Buffer.alloc(300_000, 'y').toString('base64');
    const revisions: string[] = [];
    // 8 MB written while the client reads nothing: far past the 1 MiB the watch may hold for it
    for (let i = 0; i < 20; i++) {
      const res = await server.api(SECRETS, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: `late-${i}`, labels: { late: 'yes' } }, data: { v: value } }),
      });
      expect(res.status).toBe(201);
      revisions.push(((await res.json()) as { metadata: { resourceVersion: string } }).metadata.resourceVersion);
    }
    const events = await reader.collect((e) => e.object.metadata.resourceVersion === revisions[revisions.length - 1]);
    expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(revisions.map((_, i) => `ADDED late-${i}`));
    await reader.cancel();
  });

  it('one identity holds at most --max-watches-per-user watches; one more is 429 with a Status', async () => {
    const open: TLSSocket[] = [];
    // the admin's own informer-free server: only this test's watches count
    for (let i = 0; i < 12; i++) open.push(await stalledWatch(server, `${SECRETS}?watch=true&timeoutSeconds=60`));
    const res = await server.api(`${SECRETS}?watch=true`);
    expect(res.status).toBe(429);
    const status = (await res.json()) as { kind: string; reason: string; message: string };
    expect(status).toMatchObject({ kind: 'Status', reason: 'TooManyRequests' });
    expect(status.message).toContain('too many watches: user "admin"');
    for (const s of open) s.destroy();
    await expect.poll(async () => (await server.api(`${SECRETS}?watch=true&timeoutSeconds=1`)).status, { timeout: 20_000, interval: 200 }).toBe(200);
  });
});
