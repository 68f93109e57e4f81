/**
 * Issue 17, finding 10 and deliverable 8: chaos. `berth apiserver` and `berth agent` run as two
 * processes on real runc; while a driver makes CHAOS_OPS creates and deletes of Containers, kill -9
 * hits the agent, the API server and conmon monitors at random moments, and the killed processes are
 * started again. Afterwards: every acknowledged object exists (and every acknowledged delete went
 * through), no object runs in two containers, and once everything is deleted no mount, cgroup,
 * container directory, name file or temporary file is left (listed when there is one).
 * CHAOS_OPS (default 200) and CHAOS_KILLS_PER_MIN scale it; scripts/chaos runs a longer version.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { leftovers } from '../helpers/leftovers.js';
import { cleanUpE2eServer } from '../helpers/e2e-cleanup.js';
import { BUSYBOX_TAR, e2eSkipReason } from '../helpers/e2e-skip.js';
import { freePort } from '../helpers/free-port.js';
import { startRole, type RoleProcess } from '../helpers/role-process.js';
import { testNetworkFlags } from '../helpers/test-network.js';
import { fetchTrusting } from '../helpers/tls-fetch.js';

const skip = e2eSkipReason('chaos', ['runc', 'conmon']);
const OPS = Number(process.env.CHAOS_OPS ?? 200);
/** At most this many Containers exist at once (creates become deletes past it). */
const MAX_ALIVE = Number(process.env.CHAOS_MAX_ALIVE ?? 15);
const GV = '/apis/berth.dev/v1alpha1/namespaces/default';
const NODE = 'chaos-node';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const rand = (lo: number, hi: number): number => lo + Math.floor(Math.random() * (hi - lo));

describe.skipIf(!!skip)('chaos: kill -9 of the agent, the API server and conmon during creates and deletes', { timeout: 900_000 }, () => {
  let dir: string;
  let port: number;
  let api: RoleProcess | undefined;
  let agent: RoleProcess | undefined;
  const cgroupParent = `berth-e2e-chaos-${process.pid}`;
  let request: (method: string, path: string, body?: unknown) => Promise<Response>;
  const runtimeRoot = (): string => join(dir, 'data', 'runtime');

  const startApi = async (): Promise<void> => {
    api = await startRole(['apiserver', '--data-dir', join(dir, 'api'), '--listen', `127.0.0.1:${port}`], /admin kubeconfig at /);
  };
  // one default network for every start of the agent: a private, internal bridge that reaches nothing
  const netFlags = testNetworkFlags();
  const startAgent = async (): Promise<void> => {
    agent = await startRole(
      ['agent', '--kubeconfig', join(dir, 'api', 'kubeconfig'), '--node-name', NODE, '--data-dir', join(dir, 'data'), '--cgroup-parent', cgroupParent, ...netFlags],
      /"component":"agent".*node chaos-node registered/,
    );
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-e2e-chaos-'));
    port = await freePort();
    await startApi();
    const cfg = parse(await readFile(join(dir, 'api', 'kubeconfig'), 'utf8')) as { users: { user: { token: string } }[]; clusters: { cluster: Record<string, string> }[] };
    const tlsFetch = fetchTrusting(Buffer.from(cfg.clusters[0]!.cluster['certificate-authority-data']!, 'base64').toString());
    const token = cfg.users[0]!.user.token;
    request = (method, path, body) =>
      tlsFetch(`https://127.0.0.1:${port}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(15_000),
      });
    await startAgent();
  });

  afterAll(async () => {
    await api?.kill('SIGKILL');
    await cleanUpE2eServer(agent ?? { kill: async () => undefined }, dir, cgroupParent);
  });

  /** conmon monitors of this test's runtime root. */
  const conmons = (): number[] =>
    readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
          return cmd.startsWith('conmon\0') && cmd.includes(`--root=${runtimeRoot()}/runc`);
        } catch {
          return false;
        }
      })
      .map(Number);

  /** Running runc containers of the root, by the Container (namespace/name and uid) their record names. */
  const running = (): Array<{ id: string; name: string; uid: string }> => {
    const out = execFileSync('runc', ['--root', join(runtimeRoot(), 'runc'), 'list', '--format', 'json']).toString().trim();
    const list = (out === '' || out === 'null' ? [] : JSON.parse(out)) as Array<{ id: string; status: string }>;
    return list
      .filter((c) => c.status === 'running' || c.status === 'paused')
      .map((c) => {
        const rec = JSON.parse(readFileSync(join(runtimeRoot(), 'containers', c.id, 'config.json'), 'utf8')) as { options: { labels: Record<string, string> } };
        return { id: c.id, name: rec.options.labels['berth.dev/name'] ?? '', uid: rec.options.labels['berth.dev/uid'] ?? '' };
      });
  };

  it(`${OPS} creates and deletes with kill -9 at random moments: nothing acknowledged is lost, nothing runs twice, nothing is left`, async () => {
    const img = await request('POST', `${GV}/images`, {
      apiVersion: 'berth.dev/v1alpha1',
      kind: 'Image',
      metadata: { name: 'busybox' },
      spec: { ref: 'busybox:latest', nodeName: NODE, source: { import: { path: BUSYBOX_TAR, format: 'rootfs' } } },
    });
    expect(img.status).toBe(201);
    /** Acknowledged: created (201) and not acknowledged deleted since; and acknowledged deletes. */
    const created = new Set<string>();
    const deleted = new Set<string>();
    /** Asked for but not acknowledged (the API server died mid-request): either outcome is right. */
    const unackedCreates = new Set<string>();
    const unackedDeletes = new Set<string>();
    const kills: string[] = [];
    let done = false;
    // the chaos: every 0.15-1.2 s one of the three is killed at whatever moment the driver is in (the
    // agent most often: it is the one in the middle of creates and removes)
    const chaos = (async () => {
      while (!done) {
        await sleep(rand(150, 1200));
        if (done) break;
        const what = ['apiserver', 'agent', 'agent', 'conmon'][rand(0, 4)] as string;
        if (what === 'conmon') {
          const pids = conmons();
          const pid = pids[rand(0, pids.length)];
          if (pid) {
            try {
              process.kill(pid, 'SIGKILL');
              kills.push('conmon');
            } catch {
              // gone meanwhile
            }
          }
          continue;
        }
        const role = what === 'apiserver' ? api : agent;
        await role?.kill('SIGKILL');
        kills.push(what);
        await sleep(rand(0, 500));
        // started again: an agent that cannot reach a dead API server waits for it
        for (let attempt = 0; ; attempt++) {
          try {
            if (what === 'apiserver') await startApi();
            else await startAgent();
            break;
          } catch (e) {
            if (attempt > 20) throw e;
            await sleep(500);
          }
        }
      }
    })();
    let seq = 0;
    for (let op = 0; op < OPS; op++) {
      const alive = [...created];
      const del = alive.length >= MAX_ALIVE || (alive.length > 0 && Math.random() < 0.4);
      const name = del ? (alive[rand(0, alive.length)] as string) : `chaos-${seq++}`;
      (del ? unackedDeletes : unackedCreates).add(name);
      try {
        if (del) {
          const r = await request('DELETE', `${GV}/containers/${name}`);
          if (r.status === 200 || r.status === 202 || r.status === 404) {
            created.delete(name);
            deleted.add(name);
            unackedDeletes.delete(name);
          }
        } else {
          const r = await request('POST', `${GV}/containers`, {
            apiVersion: 'berth.dev/v1alpha1',
            kind: 'Container',
            metadata: { name },
            spec: { image: 'busybox:latest', nodeName: NODE, command: ['sleep', '100000'], stopGracePeriodSeconds: 1 },
          });
          if (r.status === 201) {
            created.add(name);
            unackedCreates.delete(name);
          }
        }
      } catch {
        // the API server was down at that moment: not acknowledged
        await sleep(200);
      }
      await sleep(rand(0, 150));
    }
    done = true;
    await chaos;
    if (!api?.alive()) await startApi();
    if (!agent?.alive()) await startAgent();
    console.log(`chaos: ${OPS} operations, ${created.size} Containers left, ${deleted.size} deleted, ${unackedCreates.size} creates and ${unackedDeletes.size} deletes unanswered, kills: ${['apiserver', 'agent', 'conmon'].map((k) => `${kills.filter((x) => x === k).length} ${k}`).join(', ')}`);

    // every acknowledged create exists and runs, in exactly one container; every acknowledged delete went through
    const phase = async (name: string): Promise<string | number> => {
      const r = await request('GET', `${GV}/containers/${name}`).catch(() => undefined);
      if (!r || r.status !== 200) return r?.status ?? 'unreachable';
      return ((await r.json()) as { status?: { phase?: string } }).status?.phase ?? 'none';
    };
    for (const name of created) {
      // a delete whose answer was lost may have gone through
      if (unackedDeletes.has(name)) await expect.poll(() => phase(name), { timeout: 120_000, interval: 500 }).toSatisfy((p) => p === 'Running' || p === 404);
      else await expect.poll(() => phase(name), { timeout: 120_000, interval: 500 }).toBe('Running');
    }
    for (const name of deleted) await expect.poll(() => phase(name), { timeout: 120_000, interval: 500 }).toBe(404);
    // what exists is what was acknowledged, and maybe creates whose answer was lost (they must run too)
    const live = ((await (await request('GET', `${GV}/containers`)).json()) as { items: { metadata: { name: string } }[] }).items.map((c) => c.metadata.name).sort();
    expect(live.filter((n) => !created.has(n) && !unackedCreates.has(n))).toEqual([]);
    for (const name of live) await expect.poll(() => phase(name), { timeout: 120_000, interval: 500 }).toBe('Running');
    await expect.poll(() => running().map((c) => c.name).sort(), { timeout: 60_000, interval: 500 }).toEqual(live);

    // everything goes: then nothing may be left
    const all = await request('DELETE', `${GV}/containers`);
    expect(all.status).toBe(200);
    await expect.poll(async () => ((await (await request('GET', `${GV}/containers`)).json()) as { items: unknown[] }).items.length, { timeout: 120_000, interval: 500 }).toBe(0);
    await agent?.kill('SIGTERM');
    await api?.kill('SIGTERM');
    expect(conmons()).toEqual([]);
    const left = await leftovers(runtimeRoot(), cgroupParent);
    expect(left).toEqual({ mounts: [], cgroups: [], containers: [], names: [], temporary: [] });
      });
});
