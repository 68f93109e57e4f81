/**
 * The API client, its informers and the controller runner against a real API server (SQLite),
 * over both transports: HTTPS from the kubeconfig, and in-process sockets into the same handlers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, ApiStatusError, type KObject } from '../../../src/client/api-client.js';
import { Controller, RetryLater } from '../../../src/client/controller.js';
import { Informer } from '../../../src/client/informer.js';
import { inProcessKubeConfig } from '../../../src/client/kubeconfig.js';
import { VolumeType } from '../../../src/client/kinds.js';
import { metricsRegistry } from '../../../src/metrics/registry.js';
import { startTestServer, type TestServer } from '../../helpers/api-server.js';

const POLL = { timeout: 20_000, interval: 20 };
const volume = (name: string, labels: Record<string, string> = {}) => ({ metadata: { name, labels }, spec: {} });

let t: TestServer;
let https: ApiClient;
let inProcess: ApiClient;

beforeAll(async () => {
  t = await startTestServer();
  https = ApiClient.fromFile(t.server.kubeconfigPath);
  inProcess = new ApiClient(inProcessKubeConfig(() => t.server.connectInProcess(), t.token));
});
afterAll(async () => {
  https.close();
  inProcess.close();
  await t.stop();
});

describe.each([
  ['https', () => https],
  ['in-process', () => inProcess],
])('ApiClient over %s', (transport, client) => {
  const ns = 'default';
  const name = (s: string) => `${transport}-${s}`;

  it('creates, gets, lists in pages, patches (merge, JSON, apply, status) and deletes', async () => {
    const vols = client().resource(VolumeType);
    for (let i = 0; i < 5; i++) await vols.create(ns, volume(name(`v${i}`), { transport }));
    const got = await vols.get(ns, name('v0'));
    expect(got.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    const page = await vols.list({ namespace: ns, labelSelector: `transport=${transport}`, limit: 2 });
    expect(page.items).toHaveLength(2);
    expect(page.metadata.continue).toBeTruthy();
    const all = await vols.listAll({ namespace: ns, labelSelector: `transport=${transport}` }, 2);
    expect(all.items.map((v) => v.metadata.name).sort()).toEqual([0, 1, 2, 3, 4].map((i) => name(`v${i}`)));

    const merged = await vols.patch(ns, name('v0'), { metadata: { labels: { merged: 'yes' } } });
    expect(merged.metadata.labels?.merged).toBe('yes');
    const jsonPatched = await vols.patch(ns, name('v0'), [{ op: 'add', path: '/metadata/annotations', value: { a: 'b' } }], { type: 'json' });
    expect(jsonPatched.metadata.annotations).toEqual({ a: 'b' });
    const applied = await vols.apply({ metadata: { name: name('v0'), namespace: ns, labels: { owner: 'apply' } } }, { fieldManager: 'client-test' });
    expect(applied.metadata.labels?.owner).toBe('apply');
    const withStatus = await vols.patchStatus(ns, name('v0'), { phase: 'Ready' });
    expect(withStatus.status?.phase).toBe('Ready');

    expect(await vols.delete(ns, name('v1'))).toBeUndefined();
    expect(await vols.getIfExists(ns, name('v1'))).toBeUndefined();
  });

  it('turns failures into ApiStatusError with the server Status', async () => {
    const vols = client().resource(VolumeType);
    const err = await vols.get(ns, name('absent')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiStatusError);
    expect((err as ApiStatusError).code).toBe(404);
    expect((err as ApiStatusError).reason).toBe('NotFound');
    const invalid = await vols.create(ns, { metadata: { name: name('bad') }, spec: { driver: 'nfs' } }).catch((e: unknown) => e);
    expect((invalid as ApiStatusError).code).toBe(422);
    expect((invalid as ApiStatusError).status.details?.causes?.[0]?.field).toBe('spec.driver');
    expect(await vols.getIfExists(ns, name('bad'))).toBeUndefined();
  });

  it('watches from a resourceVersion and stops cleanly', async () => {
    const vols = client().resource(VolumeType);
    const start = await vols.list({ namespace: ns, limit: 1 });
    const seen: string[] = [];
    let done: unknown = 'not yet';
    const w = await vols.watch({ namespace: ns, resourceVersion: start.metadata.resourceVersion }, (type, o) => seen.push(`${type} ${o.metadata.name}`), (err) => (done = err));
    await vols.create(ns, volume(name('w')));
    await vols.delete(ns, name('w'));
    await expect.poll(() => seen, POLL).toEqual([`ADDED ${name('w')}`, `DELETED ${name('w')}`]);
    w.stop();
    await expect.poll(() => done, POLL).toBeUndefined();
  });
});

describe('in-process transport', () => {
  it('still authenticates: a wrong token is 401', async () => {
    const bad = new ApiClient(inProcessKubeConfig(() => t.server.connectInProcess(), 'not-the-token'));
    const err = await bad.resource(VolumeType).list({ namespace: 'default' }).catch((e: unknown) => e);
    expect((err as ApiStatusError).code).toBe(401);
    bad.close();
  });

  it('is counted by the same request metrics as HTTPS', async () => {
    const count = async () => {
      const text = await metricsRegistry.metrics();
      const m = /^apiserver_request_total\{verb="GET",resource="volumes",subresource="",code="404"\} (\d+)$/m.exec(text);
      return Number(m?.[1] ?? 0);
    };
    const before = await count();
    await inProcess.resource(VolumeType).getIfExists('default', 'metrics-probe');
    expect(await count()).toBe(before + 1);
  });
});

describe('Informer', () => {
  it('lists, follows changes, and lists again after 410 Gone, reporting what changed meanwhile', async () => {
    const vols = https.resource(VolumeType);
    await vols.create('default', volume('inf-keep', { inf: 'y' }));
    await vols.create('default', volume('inf-gone', { inf: 'y' }));
    const inf = new Informer(vols, { namespace: 'default', labelSelector: 'inf=y', retryDelayMs: 50, log: () => undefined });
    const events: string[] = [];
    inf.addHandler({ add: (o) => events.push(`add ${o.metadata.name}`), update: (_o, n) => events.push(`update ${n.metadata.name}`), delete: (o) => events.push(`delete ${o.metadata.name}`) });
    await inf.start();
    expect(inf.list().map((o) => o.metadata.name).sort()).toEqual(['inf-gone', 'inf-keep']);

    await vols.patch('default', 'inf-keep', { metadata: { annotations: { x: '1' } } });
    await expect.poll(() => events.includes('update inf-keep'), POLL).toBe(true);

    // the API server restarts: the informer watches again from where it was
    await t.restart();
    await vols.patch('default', 'inf-keep', { metadata: { annotations: { x: '2' } } });
    await expect.poll(() => inf.get('default', 'inf-keep')?.metadata.annotations?.x, POLL).toBe('2');

    // while it does not watch, one object goes and one comes, and history is compacted past it:
    // its watch gets 410 Gone, it lists again, and its handlers hear what changed meanwhile
    inf.stop();
    await vols.delete('default', 'inf-gone');
    await vols.create('default', volume('inf-new', { inf: 'y' }));
    const rv = Number((await vols.list({ namespace: 'default', limit: 1 })).metadata.resourceVersion);
    await t.server.store.compact(rv);
    await inf.start();
    await expect.poll(() => inf.list().map((o) => o.metadata.name).sort(), POLL).toEqual(['inf-keep', 'inf-new']);
    expect(events).toContain('delete inf-gone');
    expect(events).toContain('add inf-new');
    inf.stop();
  });
});

describe('Controller', () => {
  const counter = async (controller: string, result: string) => {
    const text = await metricsRegistry.metrics();
    const m = new RegExp(`^berth_controller_reconcile_total\\{controller="${controller}",result="${result}"\\} (\\d+)$`, 'm').exec(text);
    return Number(m?.[1] ?? 0);
  };

  it('reconciles every object, retries failures with backoff, honours requeueAfter, and counts results', async () => {
    const vols = inProcess.resource(VolumeType);
    for (const n of ['ctl-a', 'ctl-b', 'ctl-flaky']) await vols.create('default', volume(n, { ctl: 'y' }));
    const inf = new Informer(vols, { namespace: 'default', labelSelector: 'ctl=y', log: () => undefined });
    const calls = new Map<string, number>();
    let inFlight = 0;
    let maxInFlightPerKey = 0;
    const busy = new Set<string>();
    const c = new Controller({
      name: 'test_ctl',
      concurrency: 3,
      backoff: { baseMs: 10, maxMs: 100 },
      log: () => undefined,
      reconcile: async (key) => {
        if (busy.has(key)) maxInFlightPerKey = 2;
        busy.add(key);
        inFlight++;
        const n = (calls.get(key) ?? 0) + 1;
        calls.set(key, n);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        busy.delete(key);
        if (key === 'default/ctl-flaky' && n < 3) throw new RetryLater('not yet');
        if (key === 'default/ctl-b' && n === 1) return { requeueAfterMs: 20 };
        return undefined;
      },
    });
    c.watch(inf);
    await c.start();
    await expect.poll(() => calls.get('default/ctl-flaky'), POLL).toBe(3);
    await expect.poll(() => calls.get('default/ctl-b'), POLL).toBe(2);
    expect(calls.get('default/ctl-a')).toBe(1);
    // hammer one key while it is being reconciled: it is never run twice at once
    for (let i = 0; i < 20; i++) c.enqueue('default/ctl-a');
    await expect.poll(() => (calls.get('default/ctl-a') ?? 0) >= 2 && inFlight === 0, POLL).toBe(true);
    expect(maxInFlightPerKey).toBe(0);
    expect(await counter('test_ctl', 'error')).toBe(2);
    expect(await counter('test_ctl', 'requeue')).toBe(1);
    expect(await counter('test_ctl', 'success')).toBeGreaterThanOrEqual(4);
    expect(await metricsRegistry.metrics()).toMatch(/^workqueue_depth\{name="test_ctl"\} \d+$/m);

    // a change through the API reaches reconcile through the informer
    const before = calls.get('default/ctl-a') ?? 0;
    await vols.patch('default', 'ctl-a', { metadata: { annotations: { poke: '1' } } });
    await expect.poll(() => calls.get('default/ctl-a'), POLL).toBe(before + 1);
    // resync queues every cached key again
    c.resync();
    await expect.poll(() => calls.get('default/ctl-a'), POLL).toBe(before + 2);
    await c.stop();
    inf.stop();
  });

  it('maps changes of one kind onto keys of another, with a predicate', async () => {
    const vols = inProcess.resource(VolumeType);
    const inf = new Informer<KObject>(vols, { namespace: 'default', labelSelector: 'map=y', log: () => undefined });
    const seen: string[] = [];
    const c = new Controller({ name: 'test_map', log: () => undefined, reconcile: async (key) => void seen.push(key) });
    c.watch(inf, { map: (o) => `owner/${o.metadata.labels?.owner ?? 'none'}`, predicate: (ev) => ev !== 'delete' });
    await c.start();
    await vols.create('default', volume('map-1', { map: 'y', owner: 'x' }));
    await expect.poll(() => seen, POLL).toEqual(['owner/x']);
    // the delete is filtered out: the next change is the next key seen (events arrive in order)
    await vols.delete('default', 'map-1');
    await vols.create('default', volume('map-2', { map: 'y', owner: 'y' }));
    await expect.poll(() => seen, POLL).toEqual(['owner/x', 'owner/y']);
    await c.stop();
    inf.stop();
  });
});
