/**
 * API server and store benchmark (issue 2): creates per second with 8 concurrent clients, list
 * latency for 10k objects, watch delivery p50/p99 with 100 watchers — on SQLite and memory,
 * through the real HTTPS API of a `berth server` process (npm run build first) — side by side with etcd (Debian etcd-server) through its JSON gateway.
 * Run: npx tsx test/bench/apiserver.bench.ts
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch } from 'undici';
import { parse } from 'yaml';
import { fmt, printTable, summary } from './lib/stats.js';
import { freePort } from '../helpers/free-port.js';

const CLIENTS = 8;
const CREATES = 4000;
const LIST_SIZE = 10_000;
const LIST_RUNS = 20;
const WATCHERS = 100;
const WATCH_WRITES = 200;

interface Result {
  system: string;
  createsPerSec: number;
  list: ReturnType<typeof summary>;
  watch: ReturnType<typeof summary>;
}

/** What a backend must offer the benchmark. */
interface Target {
  name: string;
  create(i: number, prefix: string): Promise<void>;
  list(prefix: string): Promise<number>;
  /** Opens a watch; calls onEvent(name) for each created object's event. */
  watch(prefix: string, onEvent: (name: string) => void): Promise<() => void>;
  close(): Promise<void>;
}


/** Reads a streaming HTTP body line by line. */
async function readLines(body: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  const reader = body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
    if (done) return;
    buf += dec.decode(value, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) onLine(line);
    }
  }
}

/** Starts the real `berth server` (built dist/) as its own process, so clients and server don't share a thread. */
async function startBerthServer(dir: string, store: string): Promise<{ url: string; token: string; caPem: string; stop: () => Promise<void> }> {
  const main = join(import.meta.dirname, '../../dist/cmd/main.js');
  const child = spawn(process.execPath, [main, 'server', '--no-agent', '--data-dir', dir, '--listen', '127.0.0.1:0', '--store', store], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /API listening on (https?:\/\/[^\s"]+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`berth server exited with ${code}`)));
  });
  const cfg = parse(await readFile(join(dir, 'kubeconfig'), 'utf8')) as { users: { user: { token: string } }[]; clusters: { cluster: Record<string, string> }[] };
  return {
    url,
    token: cfg.users[0]!.user.token,
    caPem: Buffer.from(cfg.clusters[0]!.cluster['certificate-authority-data']!, 'base64').toString(),
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

async function berthTarget(store: 'memory' | 'sqlite'): Promise<Target> {
  const dir = await mkdtemp(join(tmpdir(), `berth-bench-${store}-`));
  const server = await startBerthServer(dir, store === 'memory' ? 'memory:' : `sqlite:${join(dir, 'state.db')}`);
  const dispatcher = new Agent({ connect: { ca: server.caPem }, connections: CLIENTS * 2 + WATCHERS + 4 });
  const headers = { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' };
  const base = (ns: string) => `${server.url}/apis/berth.dev/v1alpha1/namespaces/${ns}/volumes`;
  const ensureNs = async (ns: string) => {
    await fetch(`${server.url}/api/v1/namespaces`, { method: 'POST', headers, dispatcher, body: JSON.stringify({ metadata: { name: ns } }) }).then((r) => r.text());
  };
  // every client waits for the namespace, not only the one that asked for it first
  const namespaces = new Map<string, Promise<void>>();
  return {
    name: `berth (${store})`,
    async create(i, prefix) {
      if (!namespaces.has(prefix)) namespaces.set(prefix, ensureNs(prefix));
      await namespaces.get(prefix);
      const res = await fetch(base(prefix), {
        method: 'POST',
        headers,
        dispatcher,
        body: JSON.stringify({ apiVersion: 'berth.dev/v1alpha1', kind: 'Volume', metadata: { name: `v${i}`, labels: { bench: 'yes' } }, spec: {} }),
      });
      if (res.status !== 201) throw new Error(`create: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    },
    async list(prefix) {
      const res = await fetch(base(prefix), { headers, dispatcher });
      const body = (await res.json()) as { items: unknown[] };
      return body.items.length;
    },
    async watch(prefix, onEvent) {
      if (!namespaces.has(prefix)) namespaces.set(prefix, ensureNs(prefix));
      await namespaces.get(prefix);
      const rv = ((await (await fetch(base(prefix), { headers, dispatcher })).json()) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
      const ac = new AbortController();
      const res = await fetch(`${base(prefix)}?watch=1&resourceVersion=${rv}`, { headers, dispatcher, signal: ac.signal });
      void readLines(res.body as unknown as ReadableStream<Uint8Array>, (line) => {
        const ev = JSON.parse(line) as { type: string; object: { metadata: { name: string } } };
        if (ev.type === 'ADDED') onEvent(ev.object.metadata.name);
      });
      return () => ac.abort();
    },
    async close() {
      await server.stop();
      await dispatcher.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function etcdTarget(): Promise<Target | undefined> {
  if (spawnSync('sh', ['-c', 'command -v etcd']).status !== 0) {
    if (process.getuid?.() === 0) spawnSync('sh', ['-c', 'apt-get install -y -qq etcd-server >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq etcd-server >/dev/null)']);
    if (spawnSync('sh', ['-c', 'command -v etcd']).status !== 0) return undefined;
  }
  const dir = await mkdtemp(join(tmpdir(), 'berth-bench-etcd-'));
  const client = await freePort();
  const peer = await freePort();
  const url = `http://127.0.0.1:${client}`;
  const child: ChildProcess = spawn('etcd', [
    '--data-dir', join(dir, 'data'),
    '--listen-client-urls', url,
    '--advertise-client-urls', url,
    '--listen-peer-urls', `http://127.0.0.1:${peer}`,
    '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
    '--initial-cluster', `default=http://127.0.0.1:${peer}`,
    '--quota-backend-bytes', String(2 * 1024 ** 3),
  ], { stdio: 'ignore' });
  const dispatcher = new Agent({ connections: CLIENTS * 2 + WATCHERS + 4 });
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`${url}/health`, { dispatcher }).then((r) => r.ok).catch(() => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  // The same kind of value Berth stores: a JSON object of similar size.
  const value = (i: number, prefix: string) =>
    JSON.stringify({ apiVersion: 'berth.dev/v1alpha1', kind: 'Volume', metadata: { name: `v${i}`, namespace: prefix, uid: crypto.randomUUID(), labels: { bench: 'yes' } }, spec: { driver: 'local', reclaimPolicy: 'Delete' } });
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${url}${path}`, { method: 'POST', dispatcher, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`etcd ${path}: ${res.status} ${await res.text()}`);
    return res;
  };
  const prefixKey = (prefix: string) => `/registry/berth.dev/volumes/${prefix}/`;
  return {
    name: 'etcd 3.4 (baseline)',
    async create(i, prefix) {
      // A create is a put only if absent, as the Kubernetes apiserver does it on etcd.
      const key = b64(`${prefixKey(prefix)}v${i}`);
      await (await post('/v3/kv/txn', { compare: [{ key, target: 'CREATE', create_revision: '0' }], success: [{ request_put: { key, value: b64(value(i, prefix)) } }] })).arrayBuffer();
    },
    async list(prefix) {
      const start = prefixKey(prefix);
      const end = start.slice(0, -1) + String.fromCharCode(start.charCodeAt(start.length - 1) + 1);
      const body = (await (await post('/v3/kv/range', { key: b64(start), range_end: b64(end) })).json()) as { kvs?: { value: string }[] };
      // Decode like an API server would, so both sides do comparable work.
      return (body.kvs ?? []).map((kv) => JSON.parse(Buffer.from(kv.value, 'base64').toString())).length;
    },
    async watch(prefix, onEvent) {
      const start = prefixKey(prefix);
      const end = start.slice(0, -1) + String.fromCharCode(start.charCodeAt(start.length - 1) + 1);
      const ac = new AbortController();
      const res = await fetch(`${url}/v3/watch`, { method: 'POST', dispatcher, signal: ac.signal, body: JSON.stringify({ create_request: { key: b64(start), range_end: b64(end) } }) });
      void readLines(res.body as unknown as ReadableStream<Uint8Array>, (line) => {
        const msg = JSON.parse(line) as { result?: { events?: { kv: { value: string } }[] } };
        for (const e of msg.result?.events ?? []) {
          const obj = JSON.parse(Buffer.from(e.kv.value, 'base64').toString()) as { metadata: { name: string } };
          onEvent(obj.metadata.name);
        }
      });
      return () => ac.abort();
    },
    async close() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await dispatcher.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function measure(t: Target): Promise<Result> {
  // Creates: 8 clients, each its own loop, over one namespace.
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      for (let i = next++; i < CREATES; i = next++) await t.create(i, 'creates');
    }),
  );
  const createsPerSec = CREATES / ((performance.now() - t0) / 1000);

  // List: 10k objects in one namespace.
  next = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      for (let i = next++; i < LIST_SIZE; i = next++) await t.create(i, 'list');
    }),
  );
  const listTimes: number[] = [];
  for (let r = 0; r < LIST_RUNS; r++) {
    const s = performance.now();
    const n = await t.list('list');
    listTimes.push(performance.now() - s);
    if (n !== LIST_SIZE) throw new Error(`${t.name}: listed ${n} objects, expected ${LIST_SIZE}`);
  }

  // Watch: 100 watchers; each write's delivery latency to every watcher.
  const sentAt = new Map<string, number>();
  const delays: number[] = [];
  let received = 0;
  const stops = await Promise.all(
    Array.from({ length: WATCHERS }, () =>
      t.watch('watch', (name) => {
        const at = sentAt.get(name);
        if (at !== undefined) {
          delays.push(performance.now() - at);
          received++;
        }
      }),
    ),
  );
  await new Promise((r) => setTimeout(r, 300));
  for (let i = 0; i < WATCH_WRITES; i++) {
    sentAt.set(`v${i}`, performance.now());
    await t.create(i, 'watch');
    await new Promise((r) => setTimeout(r, 5));
  }
  const deadline = Date.now() + 30_000;
  while (received < WATCHERS * WATCH_WRITES && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  for (const stop of stops) stop();
  if (received < WATCHERS * WATCH_WRITES) console.warn(`${t.name}: only ${received}/${WATCHERS * WATCH_WRITES} watch events arrived`);
  return { system: t.name, createsPerSec, list: summary(listTimes), watch: summary(delays) };
}

async function main(): Promise<void> {
  const results: Result[] = [];
  const makers: (() => Promise<Target | undefined>)[] = [() => berthTarget('sqlite'), () => berthTarget('memory'), etcdTarget];
  for (const make of makers) {
    const t = await make();
    if (!t) {
      console.warn('etcd is not installed and could not be installed: baseline skipped');
      continue;
    }
    try {
      console.error(`measuring ${t.name} ...`);
      results.push(await measure(t));
    } finally {
      await t.close();
    }
  }
  console.log(`\nAPI/store benchmark: ${CLIENTS} clients, ${CREATES} creates; list of ${LIST_SIZE} x${LIST_RUNS}; ${WATCHERS} watchers x ${WATCH_WRITES} writes (ms)`);
  printTable(
    ['system', 'creates/s', 'list p50', 'list p99', 'watch p50', 'watch p99', 'watch max'],
    results.map((r) => [r.system, fmt(r.createsPerSec, 0), fmt(r.list.p50), fmt(r.list.p99), fmt(r.watch.p50), fmt(r.watch.p99), fmt(r.watch.max)]),
  );
  const etcd = results.find((r) => r.system.startsWith('etcd'));
  if (etcd) {
    console.log('\nratios to etcd (creates: higher is better; latencies: lower is better)');
    printTable(
      ['system', 'creates/s', 'list p50', 'watch p99'],
      results.filter((r) => r !== etcd).map((r) => [r.system, fmt(r.createsPerSec / etcd.createsPerSec, 2), fmt(r.list.p50 / etcd.list.p50, 2), fmt(r.watch.p99 / etcd.watch.p99, 2)]),
    );
  }
  await mkdir('bench-results', { recursive: true });
  await writeFile('bench-results/apiserver.json', `${JSON.stringify(results, null, 2)}\n`);
  console.log('\ntargets: creates >= 1000/s, list of 10k < 300 ms, watch p99 < 50 ms');
}

await main();
