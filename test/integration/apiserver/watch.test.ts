import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/api-server.js';
import { WatchReader } from '../../helpers/watch-stream.js';

const BASE = '/apis/berth.dev/v1alpha1/namespaces/default/volumes';
const volume = (name: string) => ({ apiVersion: 'berth.dev/v1alpha1', kind: 'Volume', metadata: { name, labels: { w: 'yes' } }, spec: {} });

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ bookmarkIntervalMs: 200 });
});
afterAll(async () => {
  await t.stop();
});

describe('watch', () => {
  it('streams ADDED for current objects, then live changes, in order', async () => {
    await t.api(BASE, { method: 'POST', json: volume('w1') });
    const res = await t.api(`${BASE}?watch=true&labelSelector=w%3Dyes`);
    expect(res.status).toBe(200);
    const r = new WatchReader(res);
    const first = await r.next();
    expect(first?.type).toBe('ADDED');
    expect(first?.object.metadata.name).toBe('w1');
    await t.api(BASE, { method: 'POST', json: volume('w2') });
    await t.api(`${BASE}/w2`, { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, json: { metadata: { annotations: { a: 'b' } } } });
    await t.api(`${BASE}/w2`, { method: 'DELETE' });
    const events = await r.collect((e) => e.type === 'DELETED');
    expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED w2', 'MODIFIED w2', 'DELETED w2']);
    const rvs = events.map((e) => Number(e.object.metadata.resourceVersion));
    expect([...rvs].sort((a, b) => a - b)).toEqual(rvs);
    await r.cancel();
  });

  it('resumes from a resourceVersion without missing or repeating events', async () => {
    const list = (await (await t.api(BASE)).json()) as { metadata: { resourceVersion: string } };
    const rv = list.metadata.resourceVersion;
    await t.api(BASE, { method: 'POST', json: volume('r1') });
    await t.api(BASE, { method: 'POST', json: volume('r2') });
    const r = new WatchReader(await t.api(`${BASE}?watch=1&resourceVersion=${rv}`));
    const events = await r.collect((e) => e.object.metadata?.name === 'r2');
    expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED r1', 'ADDED r2']);
    await r.cancel();
  });

  it('sends bookmarks when asked', async () => {
    const r = new WatchReader(await t.api(`${BASE}?watch=1&allowWatchBookmarks=true&resourceVersion=${await t.server.store.revision()}`));
    const events = await r.collect((e) => e.type === 'BOOKMARK');
    const bm = events[events.length - 1]!;
    expect(bm.type).toBe('BOOKMARK');
    expect(bm.object.kind).toBe('Volume');
    expect(Number(bm.object.metadata.resourceVersion)).toBeGreaterThan(0);
    await r.cancel();
  });

  it('answers a compacted resourceVersion with a 410 Expired ERROR event', async () => {
    const old = await t.server.store.revision();
    await t.api(BASE, { method: 'POST', json: volume('c1') });
    await t.server.store.compact(await t.server.store.revision());
    const r = new WatchReader(await t.api(`${BASE}?watch=1&resourceVersion=${old}`));
    const e = await r.next();
    expect(e?.type).toBe('ERROR');
    expect(e?.object.code).toBe(410);
    expect(e?.object.reason).toBe('Expired');
    expect(await r.next()).toBeUndefined();
  });

  it('rejects a bad selector with 400 before streaming', async () => {
    const res = await t.api(`${BASE}?watch=1&labelSelector=${encodeURIComponent('=x')}`);
    expect(res.status).toBe(400);
  });

  it('streams Table rows when kubectl asks for them', async () => {
    const r = new WatchReader(await t.api(`${BASE}?watch=1`, { headers: { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' } }));
    const e = await r.next();
    expect(e?.object.kind).toBe('Table');
    expect(e?.object.columnDefinitions[0].name).toBe('Name');
    expect(e?.object.rows.length).toBe(1);
    await r.cancel();
  });
});
