/**
 * Per-kind REST strategies over HTTP: the finalizers the server puts on Containers, Volumes and
 * Images, Namespaces with their /finalize subresource, and orphaning through the 'orphan' finalizer.
 * A real API server on SQLite, with its garbage collector and namespace controller; no agent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/api-server.js';

const GV = '/apis/berth.dev/v1alpha1/namespaces/default';
const MERGE = { 'content-type': 'application/merge-patch+json' };

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

const container = (name: string, spec: Record<string, unknown> = {}) => ({
  apiVersion: 'berth.dev/v1alpha1',
  kind: 'Container',
  metadata: { name },
  spec: { image: 'busybox:latest', command: ['sleep', '1000'], ...spec },
});

describe('node-bound kinds', () => {
  const objects = [
    { plural: 'containers', finalizer: 'berth.dev/container', body: (name: string, nodeName?: string) => container(name, nodeName ? { nodeName } : {}) },
    {
      plural: 'volumes',
      finalizer: 'berth.dev/volume',
      body: (name: string, nodeName?: string) => ({ apiVersion: 'berth.dev/v1alpha1', kind: 'Volume', metadata: { name }, spec: nodeName ? { nodeName } : {} }),
    },
    {
      plural: 'images',
      finalizer: 'berth.dev/image',
      body: (name: string, nodeName?: string) => ({ apiVersion: 'berth.dev/v1alpha1', kind: 'Image', metadata: { name }, spec: { ref: 'busybox:latest', ...(nodeName ? { nodeName } : {}) } }),
    },
  ];

  for (const { plural, finalizer, body } of objects) {
    it(`${plural}: the server adds ${finalizer} on create, after the client's own, and drops status`, async () => {
      const sent = body(`${plural}-fin`);
      const res = await t.api(`${GV}/${plural}`, { method: 'POST', json: { ...sent, metadata: { ...sent.metadata, finalizers: ['example.com/mine'] }, status: { phase: 'Ready' } } });
      expect(res.status).toBe(201);
      const obj = await json(res);
      expect(obj.metadata.finalizers).toEqual(['example.com/mine', finalizer]);
      expect(obj.status?.phase).not.toBe('Ready');
      // server-side apply creates the same way
      const applied = body(`${plural}-ssa`);
      const ssa = await t.api(`${GV}/${plural}/${plural}-ssa?fieldManager=me`, { method: 'PATCH', headers: { 'content-type': 'application/apply-patch+yaml' }, body: JSON.stringify(applied) });
      expect(ssa.status).toBe(201);
      expect((await json(ssa)).metadata.finalizers).toEqual([finalizer]);
    });

    it(`${plural}: deleting one bound to a node waits for the agent's finalizer; one never bound goes at once`, async () => {
      const bound = await t.api(`${GV}/${plural}`, { method: 'POST', json: body(`${plural}-bound`, 'node-a') });
      expect(bound.status).toBe(201);
      const del = await t.api(`${GV}/${plural}/${plural}-bound`, { method: 'DELETE' });
      expect(del.status).toBe(202);
      const held = await json(await t.api(`${GV}/${plural}/${plural}-bound`));
      expect(held.metadata.deletionTimestamp).toBeTruthy();
      expect(held.metadata.finalizers).toEqual([finalizer]);
      // the agent's part: it drops its finalizer once the node is clean, and the object goes
      const done = await t.api(`${GV}/${plural}/${plural}-bound`, { method: 'PATCH', headers: MERGE, json: { metadata: { finalizers: null } } });
      expect(done.status).toBe(200);
      expect((await t.api(`${GV}/${plural}/${plural}-bound`)).status).toBe(404);

      expect((await t.api(`${GV}/${plural}`, { method: 'POST', json: body(`${plural}-unbound`) })).status).toBe(201);
      const gone = await t.api(`${GV}/${plural}/${plural}-unbound`, { method: 'DELETE' });
      expect(gone.status).toBe(200);
      expect((await json(gone)).status).toBe('Success');
      expect((await t.api(`${GV}/${plural}/${plural}-unbound`)).status).toBe(404);
    });
  }

  it('an unbound object held by another finalizer keeps only that one', async () => {
    await t.api(`${GV}/containers`, { method: 'POST', json: { ...container('held'), metadata: { name: 'held', finalizers: ['example.com/hold'] } } });
    const del = await t.api(`${GV}/containers/held`, { method: 'DELETE' });
    expect(del.status).toBe(202);
    expect((await json(del)).metadata.finalizers).toEqual(['example.com/hold']);
    await t.api(`${GV}/containers/held`, { method: 'PATCH', headers: MERGE, json: { metadata: { finalizers: null } } });
    expect((await t.api(`${GV}/containers/held`)).status).toBe(404);
  });
});

describe('namespaces', () => {
  const NS = '/api/v1/namespaces';

  it('are created with the kubernetes finalizer and phase Active; spec and status are not written through the main resource', async () => {
    const res = await t.api(NS, { method: 'POST', json: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns-a' }, spec: { finalizers: ['example.com/keep'] }, status: { phase: 'Terminating' } } });
    expect(res.status).toBe(201);
    const ns = await json(res);
    expect(ns.spec.finalizers).toEqual(['example.com/keep', 'kubernetes']);
    expect(ns.status.phase).toBe('Active');
    const patched = await json(await t.api(`${NS}/ns-a`, { method: 'PATCH', headers: MERGE, json: { metadata: { labels: { a: 'b' } }, spec: { finalizers: [] }, status: { phase: 'Terminating' } } }));
    expect(patched.metadata.labels).toEqual({ a: 'b' });
    expect(patched.spec.finalizers).toEqual(['example.com/keep', 'kubernetes']);
    expect(patched.status.phase).toBe('Active');
  });

  it('refuse a status phase that does not match the deletion, naming the field', async () => {
    const res = await t.api(`${NS}/ns-a/status`, { method: 'PATCH', headers: MERGE, json: { status: { phase: 'Terminating' } } });
    expect(res.status).toBe(422);
    const st = await json(res);
    expect(st.details.causes).toEqual([expect.objectContaining({ field: 'status.phase' })]);
    expect((await json(await t.api(`${NS}/ns-a`))).status.phase).toBe('Active');
  });

  it('advertise namespaces/finalize (update only) in discovery, and no finalize for other kinds', async () => {
    const core = await json(await t.api('/api/v1'));
    const finalize = core.resources.find((r: any) => r.name === 'namespaces/finalize');
    expect(finalize).toMatchObject({ kind: 'Namespace', namespaced: false, verbs: ['update'] });
    expect(core.resources.find((r: any) => r.name === 'namespaces/status').verbs).toEqual(['get', 'patch', 'update']);
    const berth = await json(await t.api('/apis/berth.dev/v1alpha1'));
    expect(berth.resources.map((r: any) => r.name)).not.toContain('containers/finalize');
    expect((await t.api(`${GV}/containers/nothing/finalize`, { method: 'PUT', json: container('nothing') })).status).toBe(404);
  });

  it('serve PUT /finalize: only spec.finalizers changes; other methods are 405; bad finalizer names are 422', async () => {
    const ns = await json(await t.api(`${NS}/ns-a`));
    expect((await t.api(`${NS}/ns-a/finalize`)).status).toBe(405);
    expect((await t.api(`${NS}/ns-a/finalize`, { method: 'PATCH', headers: MERGE, json: { spec: { finalizers: [] } } })).status).toBe(405);
    const bad = await t.api(`${NS}/ns-a/finalize`, { method: 'PUT', json: { ...ns, spec: { finalizers: ['no slash', 'kubernetes'] } } });
    expect(bad.status).toBe(422);
    expect((await json(bad)).details.causes.map((c: any) => c.field)).toEqual(['spec.finalizers[0]']);
    const unqualified = await t.api(`${NS}/ns-a/finalize`, { method: 'PUT', json: { ...ns, spec: { finalizers: ['mine'] } } });
    expect(unqualified.status).toBe(422);

    const body = { ...ns, metadata: { ...ns.metadata, labels: { sneaked: 'in' } }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Terminating' } };
    const res = await t.api(`${NS}/ns-a/finalize`, { method: 'PUT', json: body });
    expect(res.status).toBe(200);
    const out = await json(res);
    expect(out.spec.finalizers).toEqual(['kubernetes']);
    expect(out.metadata.labels).toEqual({ a: 'b' });
    expect(out.status.phase).toBe('Active');
    const stale = await t.api(`${NS}/ns-a/finalize`, { method: 'PUT', json: { ...ns, spec: { finalizers: [] } } });
    expect(stale.status).toBe(409);
  });

  it('deleting: Terminating until the controller and every other spec finalizer let go through /finalize', async () => {
    const res = await t.api(NS, { method: 'POST', json: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns-b' }, spec: { finalizers: ['example.com/hold'] } } });
    expect(res.status).toBe(201);
    const del = await t.api(`${NS}/ns-b`, { method: 'DELETE' });
    expect(del.status).toBe(202);
    expect((await json(del)).status.phase).toBe('Terminating');
    // the namespace controller drops its own finalizer (the namespace is empty); the other holds
    await expect.poll(async () => (await json(await t.api(`${NS}/ns-b`))).spec.finalizers, { timeout: 10_000 }).toEqual(['example.com/hold']);
    const ns = await json(await t.api(`${NS}/ns-b`));
    expect(ns.status.phase).toBe('Terminating');
    const fin = await t.api(`${NS}/ns-b/finalize`, { method: 'PUT', json: { ...ns, spec: { finalizers: [] } } });
    expect(fin.status).toBe(200);
    expect((await t.api(`${NS}/ns-b`)).status).toBe(404);
  });
});

describe('orphaning', () => {
  it('orphanDependents=true works as propagationPolicy=Orphan; a later Background delete of the owner drops the orphan finalizer', async () => {
    const owner = await json(await t.api(`${GV}/containers`, { method: 'POST', json: { ...container('o-owner'), metadata: { name: 'o-owner', finalizers: ['example.com/hold'] } } }));
    const ref = { apiVersion: 'berth.dev/v1alpha1', kind: 'Container', name: 'o-owner', uid: owner.metadata.uid };
    await t.api(`${GV}/containers`, { method: 'POST', json: { ...container('o-dep'), metadata: { name: 'o-dep', ownerReferences: [ref] } } });
    const del = await t.api(`${GV}/containers/o-owner`, { method: 'DELETE', json: { kind: 'DeleteOptions', apiVersion: 'v1', orphanDependents: true } });
    expect(del.status).toBe(202);
    expect((await json(del)).metadata.finalizers).toEqual(['example.com/hold', 'orphan']);
    // the collector lets the dependent go, then drops 'orphan'; example.com/hold keeps the owner
    await expect.poll(async () => (await json(await t.api(`${GV}/containers/o-owner`))).metadata.finalizers, { timeout: 10_000 }).toEqual(['example.com/hold']);
    expect((await json(await t.api(`${GV}/containers/o-dep`))).metadata.ownerReferences ?? []).toEqual([]);
    // dry run changes nothing
    const dry = await t.api(`${GV}/containers/o-owner?dryRun=All&propagationPolicy=Orphan`, { method: 'DELETE' });
    expect(dry.status).toBe(202);
    expect((await json(dry)).metadata.finalizers).toEqual(['example.com/hold', 'orphan']);
    expect((await json(await t.api(`${GV}/containers/o-owner`))).metadata.finalizers).toEqual(['example.com/hold']);
    await t.api(`${GV}/containers/o-owner`, { method: 'PATCH', headers: MERGE, json: { metadata: { finalizers: null } } });
    expect((await t.api(`${GV}/containers/o-owner`)).status).toBe(404);
    expect((await t.api(`${GV}/containers/o-dep`)).status).toBe(200);
  });
});
