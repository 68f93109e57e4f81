import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/api-server.js';

const BASE = '/apis/berth.dev/v1alpha1/namespaces/default/containers';

const container = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'berth.dev/v1alpha1',
  kind: 'Container',
  metadata: { name, labels: { app: name } },
  spec: { image: 'busybox:latest', command: ['sleep', '1000'], ...extra },
});

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.stop();
});

async function json(res: Response): Promise<Record<string, any>> {
  return (await res.json()) as Record<string, any>;
}

describe('discovery and health', () => {
  it('serves version, health and discovery', async () => {
    const v = await json(await t.fetch(`${t.url}/version`));
    expect(v.major).toBe('1');
    expect((await t.fetch(`${t.url}/healthz`)).status).toBe(200);
    const groups = await json(await t.api('/apis'));
    expect(groups.groups.map((g: any) => g.name)).toContain('berth.dev');
    const list = await json(await t.api('/apis/berth.dev/v1alpha1'));
    const names = list.resources.map((r: any) => r.name);
    expect(names).toEqual(expect.arrayContaining(['containers', 'containers/status', 'images', 'volumes', 'nodes']));
    const core = await json(await t.api('/api/v1'));
    expect(core.resources.map((r: any) => r.name)).toEqual(expect.arrayContaining(['namespaces', 'events']));
  });

  it('refuses anonymous and bad tokens with a 401 Status', async () => {
    const anon = await t.fetch(`${t.url}${BASE}`);
    expect(anon.status).toBe(401);
    expect((await json(anon)).kind).toBe('Status');
    const bad = await t.fetch(`${t.url}${BASE}`, { headers: { authorization: 'Bearer nope' } });
    expect(bad.status).toBe(401);
    expect((await t.fetch(`${t.url}/metrics`)).status).toBe(401);
  });

  it('answers unknown resources with 404 Status', async () => {
    const res = await t.api('/apis/berth.dev/v1alpha1/namespaces/default/widgets');
    expect(res.status).toBe(404);
    expect((await json(res)).reason).toBe('NotFound');
  });
});

describe('CRUD', () => {
  it('creates, gets, lists with selectors, updates with CAS and deletes', async () => {
    const created = await t.api(BASE, { method: 'POST', json: container('crud') });
    expect(created.status).toBe(201);
    const obj = await json(created);
    expect(obj.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(obj.metadata.generation).toBe(1);
    expect(obj.spec.restartPolicy).toBe('Always');

    const again = await t.api(BASE, { method: 'POST', json: container('crud') });
    expect(again.status).toBe(409);
    expect((await json(again)).reason).toBe('AlreadyExists');

    const list = await json(await t.api(`${BASE}?labelSelector=app%3Dcrud`));
    expect(list.kind).toBe('ContainerList');
    expect(list.items.map((i: any) => i.metadata.name)).toEqual(['crud']);
    const none = await json(await t.api(`${BASE}?labelSelector=app%3Dother`));
    expect(none.items).toEqual([]);

    const stale = { ...obj, metadata: { ...obj.metadata, resourceVersion: '1' }, spec: { ...obj.spec, args: ['x'] } };
    const conflict = await t.api(`${BASE}/crud`, { method: 'PUT', json: stale });
    expect(conflict.status).toBe(409);
    expect((await json(conflict)).reason).toBe('Conflict');

    const upd = await t.api(`${BASE}/crud`, { method: 'PUT', json: { ...obj, spec: { ...obj.spec, args: ['x'] } } });
    expect(upd.status).toBe(200);
    const updated = await json(upd);
    expect(updated.metadata.generation).toBe(2);
    expect(Number(updated.metadata.resourceVersion)).toBeGreaterThan(Number(obj.metadata.resourceVersion));

    const del = await t.api(`${BASE}/crud`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect((await json(del)).status).toBe('Success');
    expect((await t.api(`${BASE}/crud`)).status).toBe(404);
  });

  it('generateName makes a unique name', async () => {
    const res = await t.api(BASE, { method: 'POST', json: { ...container(''), metadata: { generateName: 'gen-' } } });
    expect(res.status).toBe(201);
    expect((await json(res)).metadata.name).toMatch(/^gen-[a-z0-9]{5}$/);
  });

  it('moves generation only when spec changes; labels do not count', async () => {
    const obj = await json(await t.api(BASE, { method: 'POST', json: container('gen') }));
    const labelled = await json(
      await t.api(`${BASE}/gen`, { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, json: { metadata: { labels: { x: 'y' } } } }),
    );
    expect(labelled.metadata.generation).toBe(obj.metadata.generation);
    expect(labelled.metadata.labels.x).toBe('y');
    const changed = await json(
      await t.api(`${BASE}/gen`, { method: 'PATCH', headers: { 'content-type': 'application/json-patch+json' }, json: [{ op: 'replace', path: '/spec/image', value: 'busybox:2' }] }),
    );
    expect(changed.metadata.generation).toBe(obj.metadata.generation + 1);
    expect(changed.spec.image).toBe('busybox:2');
  });

  it('keeps status and spec apart: /status writes status only, main writes ignore status', async () => {
    const obj = await json(await t.api(BASE, { method: 'POST', json: { ...container('st'), status: { phase: 'Running' } } }));
    expect(obj.status).toBeUndefined();
    const s = await t.api(`${BASE}/st/status`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/merge-patch+json' },
      json: { status: { phase: 'Running', pid: 42 }, spec: { image: 'ignored:1' } },
    });
    expect(s.status).toBe(200);
    const withStatus = await json(s);
    expect(withStatus.status.phase).toBe('Running');
    expect(withStatus.spec.image).toBe('busybox:latest');
    expect(withStatus.metadata.generation).toBe(1);
    const main = await json(
      await t.api(`${BASE}/st`, { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, json: { status: { phase: 'Failed' } } }),
    );
    expect(main.status.phase).toBe('Running');
  });
});

describe('bad input', () => {
  it('malformed JSON is 400 and writes nothing', async () => {
    const before = await json(await t.api(BASE));
    const res = await t.api(BASE, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"apiVersion": ' });
    expect(res.status).toBe(400);
    expect((await json(res)).kind).toBe('Status');
    const after = await json(await t.api(BASE));
    expect(after.items.length).toBe(before.items.length);
  });

  it('schema violations are 422 with each bad field named', async () => {
    const res = await t.api(BASE, {
      method: 'POST',
      json: container('bad', { restartPolicy: 'Sometimes', volumeMounts: [{ name: 'v', mountPath: 'relative' }] }),
    });
    expect(res.status).toBe(422);
    const st = await json(res);
    expect(st.reason).toBe('Invalid');
    const fields = st.details.causes.map((c: any) => c.field);
    expect(fields).toContain('spec.restartPolicy');
    expect(fields).toContain('spec.volumeMounts[0].mountPath');
    expect((await t.api(`${BASE}/bad`)).status).toBe(404);
  });

  it('unknown fields: Strict is 400 naming the field, Warn drops them with a warning', async () => {
    const strict = await t.api(`${BASE}?fieldValidation=Strict`, { method: 'POST', json: container('uf', { colour: 'red' }) });
    expect(strict.status).toBe(400);
    expect((await json(strict)).message).toContain('unknown field "spec.colour"');
    const warn = await t.api(`${BASE}?fieldValidation=Warn`, { method: 'POST', json: container('uf', { colour: 'red' }) });
    expect(warn.status).toBe(201);
    expect(warn.headers.get('warning')).toContain('spec.colour');
    expect((await json(warn)).spec.colour).toBeUndefined();
  });

  it('bodies over 3 MiB are 413', async () => {
    const big = container('big', { args: ['x'.repeat(3 * 1024 * 1024 + 10)] });
    const res = await t.api(BASE, { method: 'POST', json: big });
    expect(res.status).toBe(413);
    expect((await json(res)).reason).toBe('RequestEntityTooLarge');
  });

  it('never answers 500 to junk', async () => {
    const junk: unknown[] = [null, 1, 'x', [], [1], { metadata: 5 }, { metadata: { name: 5 } }, { kind: 'Volume' }, { metadata: { name: 'UPPER' } }, { spec: null, metadata: { name: 'n' } }];
    for (const body of junk) {
      for (const method of ['POST', 'PUT', 'PATCH']) {
        const path = method === 'POST' ? BASE : `${BASE}/n`;
        for (const ct of ['application/json', 'application/merge-patch+json', 'application/json-patch+json', 'application/apply-patch+yaml']) {
          if (method !== 'PATCH' && ct !== 'application/json') continue;
          const res = await t.api(`${path}?fieldManager=fuzz`, { method, headers: { 'content-type': ct }, body: JSON.stringify(body) });
          expect(res.status, `${method} ${ct} ${JSON.stringify(body)}`).toBeLessThan(500);
          expect((await json(res)).kind).toBeDefined();
        }
      }
    }
    const selector = await t.api(`${BASE}?labelSelector=${encodeURIComponent('a in (b')}`);
    expect(selector.status).toBe(400);
  });
});

describe('deletion', () => {
  it('waits for finalizers: deletionTimestamp first, gone when the last finalizer is removed', async () => {
    await t.api(BASE, { method: 'POST', json: { ...container('fin'), metadata: { name: 'fin', finalizers: ['berth.dev/test'] } } });
    const del = await t.api(`${BASE}/fin`, { method: 'DELETE' });
    expect(del.status).toBe(202);
    const pending = await json(await t.api(`${BASE}/fin`));
    expect(pending.metadata.deletionTimestamp).toBeTruthy();
    const add = await t.api(`${BASE}/fin`, { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, json: { metadata: { finalizers: ['berth.dev/test', 'other'] } } });
    expect(add.status).toBe(403);
    const done = await t.api(`${BASE}/fin`, { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, json: { metadata: { finalizers: null } } });
    expect(done.status).toBe(200);
    expect((await t.api(`${BASE}/fin`)).status).toBe(404);
  });

  it('deletes dependents in the background when their owner goes', async () => {
    const owner = await json(await t.api(BASE, { method: 'POST', json: container('owner') }));
    const ref = { apiVersion: 'berth.dev/v1alpha1', kind: 'Container', name: 'owner', uid: owner.metadata.uid };
    await t.api(BASE, { method: 'POST', json: { ...container('dep'), metadata: { name: 'dep', ownerReferences: [ref] } } });
    await t.api(`${BASE}/owner`, { method: 'DELETE' });
    await expect.poll(async () => (await t.api(`${BASE}/dep`)).status, { timeout: 10_000 }).toBe(404);
  });

  it('orphans dependents with propagationPolicy=Orphan: the orphan finalizer holds the owner until the collector let them go', async () => {
    const owner = await json(await t.api(BASE, { method: 'POST', json: container('owner2') }));
    const ref = { apiVersion: 'berth.dev/v1alpha1', kind: 'Container', name: 'owner2', uid: owner.metadata.uid };
    await t.api(BASE, { method: 'POST', json: { ...container('dep2'), metadata: { name: 'dep2', ownerReferences: [ref] } } });
    const del = await t.api(`${BASE}/owner2`, { method: 'DELETE', json: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Orphan' } });
    // 202 with the finalizer (the collector may already have finished when the answer is read, hence not a GET)
    expect(del.status).toBe(202);
    const terminating = await json(del);
    expect(terminating.metadata.finalizers).toContain('orphan');
    expect(terminating.metadata.deletionTimestamp).toBeTruthy();
    await expect.poll(async () => (await t.api(`${BASE}/owner2`)).status, { timeout: 10_000 }).toBe(404);
    const depRes = await t.api(`${BASE}/dep2`);
    expect(depRes.status).toBe(200);
    expect((await json(depRes)).metadata.ownerReferences ?? []).toEqual([]);
  });

  it('deleting a namespace removes what is inside, then the namespace', async () => {
    expect((await t.api('/api/v1/namespaces', { method: 'POST', json: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'doomed' } } })).status).toBe(201);
    const inNs = '/apis/berth.dev/v1alpha1/namespaces/doomed/containers';
    // c1's finalizer holds the namespace in Terminating until the test lets go.
    const held = { ...container('c1'), metadata: { name: 'c1', finalizers: ['berth.dev/hold'] } };
    expect((await t.api(inNs, { method: 'POST', json: held })).status).toBe(201);
    expect((await t.api('/api/v1/namespaces/doomed', { method: 'DELETE' })).status).toBe(202);
    const refused = await t.api(inNs, { method: 'POST', json: container('c2') });
    expect(refused.status).toBe(403);
    await expect.poll(async () => ((await json(await t.api(`${inNs}/c1`))).metadata?.deletionTimestamp ? 'terminating' : 'live')).toBe('terminating');
    const ns = await json(await t.api('/api/v1/namespaces/doomed'));
    expect(ns.status.phase).toBe('Terminating');
    await t.api(`${inNs}/c1`, { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, json: { metadata: { finalizers: null } } });
    await expect.poll(async () => (await t.api('/api/v1/namespaces/doomed')).status, { timeout: 20_000 }).toBe(404);
    expect((await json(await t.api(inNs))).items).toEqual([]);
  });

  it('refuses to create in a namespace that does not exist', async () => {
    const res = await t.api('/apis/berth.dev/v1alpha1/namespaces/nope/containers', { method: 'POST', json: container('x') });
    expect(res.status).toBe(404);
  });
});

describe('server-side apply', () => {
  const apply = (body: unknown, manager: string, force = false) =>
    t.api(`${BASE}/ssa?fieldManager=${manager}${force ? '&force=true' : ''}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/apply-patch+yaml' },
      body: JSON.stringify(body),
    });

  it('creates, records managedFields, detects conflicts and forces', async () => {
    const first = await apply(container('ssa', { env: [{ name: 'A', value: '1' }] }), 'alice');
    expect(first.status).toBe(201);
    const obj = await json(first);
    const mine = obj.metadata.managedFields.find((m: any) => m.manager === 'alice');
    expect(mine.operation).toBe('Apply');
    expect(mine.fieldsV1['f:spec']['f:image']).toEqual({});

    const same = await apply(container('ssa', { env: [{ name: 'A', value: '1' }] }), 'alice');
    expect((await json(same)).metadata.resourceVersion).toBe(obj.metadata.resourceVersion);

    const bob = await apply(container('ssa', { image: 'busybox:other' }), 'bob');
    expect(bob.status).toBe(409);
    const st = await json(bob);
    expect(st.message).toContain('conflict with "alice"');
    expect(st.details.causes[0].field).toBe('.spec.image');

    const forced = await apply({ apiVersion: 'berth.dev/v1alpha1', kind: 'Container', metadata: { name: 'ssa' }, spec: { image: 'busybox:other' } }, 'bob', true);
    expect(forced.status).toBe(200);
    const after = await json(forced);
    expect(after.spec.image).toBe('busybox:other');
    expect(after.spec.env).toEqual([{ name: 'A', value: '1' }]);

    // alice stops applying env: it goes, since nobody else owns it
    const shrink = await apply({ apiVersion: 'berth.dev/v1alpha1', kind: 'Container', metadata: { name: 'ssa' }, spec: { image: 'busybox:other', command: ['sleep', '1000'] } }, 'alice');
    expect(shrink.status, JSON.stringify(await shrink.clone().json())).toBe(200);
    expect((await json(shrink)).spec.env).toBeUndefined();
  });
});

describe('table output', () => {
  it('returns a Table with the printer columns', async () => {
    await t.api(BASE, { method: 'POST', json: container('tbl') });
    const res = await t.api(BASE, { headers: { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' } });
    const table = await json(res);
    expect(table.kind).toBe('Table');
    expect(table.columnDefinitions[0].name).toBe('Name');
    expect(table.columnDefinitions.map((c: any) => c.name)).toContain('Image');
    const row = table.rows.find((r: any) => r.cells[0] === 'tbl');
    const imageCol = table.columnDefinitions.findIndex((c: any) => c.name === 'Image');
    expect(row.cells[imageCol]).toBe('busybox:latest');
  });
});

describe('metrics', () => {
  it('exports request counts, store latency and object counts', async () => {
    const text = await (await t.api('/metrics')).text();
    expect(text).toMatch(/apiserver_request_total\{verb="POST",resource="containers",subresource="",code="201"\} \d+/);
    expect(text).toContain('berth_store_operation_duration_seconds_bucket');
    expect(text).toContain('apiserver_registered_watchers');
  });
});
