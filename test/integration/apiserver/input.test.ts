/**
 * API input (issue 17, finding 14): names in the URL, label and annotation rules, Content-Type,
 * immutable metadata on update and patch, and the canonical metadata that keeps `kubectl diff`
 * of an unchanged manifest silent. A real API server on SQLite; every answer is a Status.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/api-server.js';

const GV = '/apis/berth.dev/v1alpha1/namespaces/default';
const MERGE = { 'content-type': 'application/merge-patch+json' };
const APPLY = { 'content-type': 'application/apply-patch+yaml' };

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

const container = (name: string, metadata: Record<string, unknown> = {}) => ({
  apiVersion: 'berth.dev/v1alpha1',
  kind: 'Container',
  metadata: { name, ...metadata },
  spec: { image: 'busybox:latest', command: ['sleep', '1000'] },
});

async function create(name: string, metadata: Record<string, unknown> = {}): Promise<Record<string, any>> {
  const res = await t.api(`${GV}/containers`, { method: 'POST', json: container(name, metadata) });
  expect(res.status).toBe(201);
  return json(res);
}

describe('names in the URL', () => {
  it('a NUL byte in a name is 400 for GET, PUT, DELETE and server-side apply, never 500', async () => {
    for (const [method, headers, body] of [
      ['GET', {}, undefined],
      ['DELETE', {}, undefined],
      ['PUT', { 'content-type': 'application/json' }, JSON.stringify(container('a\u0000b'))],
      ['PATCH', APPLY, JSON.stringify(container('a\u0000b'))],
    ] as const) {
      const res = await t.api(`${GV}/containers/a%00b?fieldManager=test`, { method, headers, ...(body ? { body } : {}) });
      const status = await json(res);
      expect(res.status, method).toBe(400);
      expect(status.kind).toBe('Status');
      expect(status.message).toContain('invalid resource name');
    }
  });

  it('a NUL byte in a namespace is 400; a stray % is 400', async () => {
    const ns = await t.api('/apis/berth.dev/v1alpha1/namespaces/de%00fault/containers');
    expect(ns.status).toBe(400);
    const bad = await t.api(`${GV}/containers/%E0%A4%A`);
    expect(bad.status).toBe(400);
    expect((await json(bad)).kind).toBe('Status');
  });

  it('a name that is not a DNS subdomain is 404 on GET and 422 naming metadata.name on apply', async () => {
    expect((await t.api(`${GV}/containers/UPPER`)).status).toBe(404);
    const res = await t.api(`${GV}/containers/UPPER?fieldManager=test`, { method: 'PATCH', headers: APPLY, body: JSON.stringify(container('UPPER')) });
    expect(res.status).toBe(422);
    expect((await json(res)).details.causes[0].field).toBe('metadata.name');
  });
});

describe('labels and annotations', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['an empty label key', { labels: { '': 'x' } }, 'metadata.labels'],
    ['a label key with a space', { labels: { 'a b': 'x' } }, 'metadata.labels'],
    ['a label key whose name part is over 63 characters', { labels: { ['k'.repeat(64)]: 'x' } }, 'metadata.labels'],
    ['a label key with an invalid prefix', { labels: { 'Example.COM/k': 'x' } }, 'metadata.labels'],
    ['a label value over 63 characters', { labels: { k: 'v'.repeat(64) } }, 'metadata.labels'],
    ['a label value with a slash', { labels: { k: 'a/b' } }, 'metadata.labels'],
    ['an empty annotation key', { annotations: { '': 'x' } }, 'metadata.annotations'],
    ['annotations over 256 KiB', { annotations: { big: 'x'.repeat(256 * 1024) } }, 'metadata.annotations'],
    ['a finalizer that is not a qualified name', { finalizers: ['a b'] }, 'metadata.finalizers[0]'],
  ];
  for (const [what, metadata, field] of cases) {
    it(`${what} is refused with 422 naming ${field}`, async () => {
      const res = await t.api(`${GV}/containers`, { method: 'POST', json: container('labels-bad', metadata) });
      const status = await json(res);
      expect(res.status).toBe(422);
      expect(status.reason).toBe('Invalid');
      expect(status.details.causes.map((c: { field: string }) => c.field)).toContain(field);
    });
  }

  it('valid keys and values are taken, an empty value too', async () => {
    const obj = await create('labels-ok', { labels: { 'example.com/app': 'web', tier: '', 'a.b_c-d': 'X.y_z-1' }, annotations: { 'example.com/note': 'any text at all / with slashes' } });
    expect(obj.metadata.labels).toEqual({ 'example.com/app': 'web', tier: '', 'a.b_c-d': 'X.y_z-1' });
  });

  it('a label made invalid by a patch is refused, and nothing is written', async () => {
    await create('labels-patch');
    const res = await t.api(`${GV}/containers/labels-patch`, { method: 'PATCH', headers: MERGE, body: JSON.stringify({ metadata: { labels: { '': 'x' } } }) });
    expect(res.status).toBe(422);
    const now = await json(await t.api(`${GV}/containers/labels-patch`));
    expect(now.metadata.labels).toBeUndefined();
  });
});

describe('Content-Type', () => {
  it('text/plain is 415 on create and on update; nothing is created', async () => {
    const res = await t.api(`${GV}/containers`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify(container('plain')) });
    expect(res.status).toBe(415);
    expect((await json(res)).reason).toBe('UnsupportedMediaType');
    expect((await t.api(`${GV}/containers/plain`)).status).toBe(404);
    const form = await t.api(`${GV}/containers`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: JSON.stringify(container('form')) });
    expect(form.status).toBe(415);
  });

  it('a patch content type on PUT and a plain JSON content type on PATCH are 415', async () => {
    const obj = await create('ctype');
    const put = await t.api(`${GV}/containers/ctype`, { method: 'PUT', headers: MERGE, body: JSON.stringify(obj) });
    expect(put.status).toBe(415);
    const patch = await t.api(`${GV}/containers/ctype`, { method: 'PATCH', headers: { 'content-type': 'text/plain' }, body: '{}' });
    expect(patch.status).toBe(415);
  });
});

describe('immutable metadata', () => {
  it('a merge patch of metadata.uid is 409 Conflict, as a failed precondition', async () => {
    const obj = await create('uid-patch');
    const res = await t.api(`${GV}/containers/uid-patch`, { method: 'PATCH', headers: MERGE, body: JSON.stringify({ metadata: { uid: 'another-uid' } }) });
    const status = await json(res);
    expect(res.status).toBe(409);
    expect(status.reason).toBe('Conflict');
    expect(status.message).toContain('Precondition failed: UID in precondition: another-uid');
    const now = await json(await t.api(`${GV}/containers/uid-patch`));
    expect(now.metadata.uid).toBe(obj.metadata.uid);
  });

  it('an update (PUT) with another uid is 409; with the same uid it is taken', async () => {
    const obj = await create('uid-put');
    const res = await t.api(`${GV}/containers/uid-put`, { method: 'PUT', json: { ...obj, metadata: { ...obj.metadata, uid: 'x' } } });
    expect(res.status).toBe(409);
    const ok = await t.api(`${GV}/containers/uid-put`, { method: 'PUT', json: { ...obj, metadata: { ...obj.metadata, labels: { a: 'b' } } } });
    expect(ok.status).toBe(200);
  });

  it('a changed creationTimestamp is 422; the same instant in another spelling is taken', async () => {
    const obj = await create('created');
    const res = await t.api(`${GV}/containers/created`, { method: 'PATCH', headers: MERGE, body: JSON.stringify({ metadata: { creationTimestamp: '2001-01-01T00:00:00Z' } }) });
    const status = await json(res);
    expect(res.status).toBe(422);
    expect(status.details.causes[0].field).toBe('metadata.creationTimestamp');
    const sameInstant = new Date(obj.metadata.creationTimestamp).toISOString(); // with milliseconds
    const ok = await t.api(`${GV}/containers/created`, { method: 'PATCH', headers: MERGE, body: JSON.stringify({ metadata: { creationTimestamp: sameInstant, labels: { a: 'b' } } }) });
    expect(ok.status).toBe(200);
  });

  it('a patch that renames the object is 422 naming metadata.name', async () => {
    await create('rename-me');
    for (const [headers, body] of [
      [MERGE, { metadata: { name: 'renamed' } }],
      [{ 'content-type': 'application/json-patch+json' }, [{ op: 'replace', path: '/metadata/name', value: 'renamed' }]],
    ] as const) {
      const res = await t.api(`${GV}/containers/rename-me`, { method: 'PATCH', headers, body: JSON.stringify(body) });
      const status = await json(res);
      expect(res.status).toBe(422);
      expect(status.details.causes[0].field).toBe('metadata.name');
    }
    expect((await t.api(`${GV}/containers/renamed`)).status).toBe(404);
  });
});

describe('what the fuzz test found (500s before)', () => {
  it('a JSON patch whose first operation removes the root is 400, not 500', async () => {
    await create('root-patch');
    const ops = [{ op: 'remove', path: '' }, { op: 'replace', path: '/spec', value: {} }];
    const res = await t.api(`${GV}/containers/root-patch`, { method: 'PATCH', headers: { 'content-type': 'application/json-patch+json' }, body: JSON.stringify(ops) });
    expect(res.status).toBe(400);
    expect((await json(res)).kind).toBe('Status');
  });

  it('a limit past the largest safe integer is 400, not 500', async () => {
    const res = await t.api(`${GV}/containers?limit=99999999999999999999`);
    expect(res.status).toBe(400);
  });

  it('a body nested deeper than 256 levels is 400', async () => {
    const deep = JSON.stringify(container('deep')).replace('"spec":{', `"spec":{"x":${'['.repeat(5000)}${']'.repeat(5000)},`);
    const res = await t.api(`${GV}/containers`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: deep });
    expect(res.status).toBe(400);
  });
});

describe('canonical metadata', () => {
  it('empty annotations, labels and finalizers are not stored, on create and on patch (kubectl diff sends annotations: {})', async () => {
    const obj = await create('canon', { annotations: {}, labels: {} });
    expect(obj.metadata).not.toHaveProperty('annotations');
    expect(obj.metadata).not.toHaveProperty('labels');
    const rv = obj.metadata.resourceVersion as string;
    // what kubectl diff sends for an object applied without kubectl's last-applied annotation
    const res = await t.api(`${GV}/containers/canon?dryRun=All&fieldManager=kubectl-client-side-apply`, {
      method: 'PATCH',
      headers: MERGE,
      body: JSON.stringify({ metadata: { annotations: {}, resourceVersion: rv } }),
    });
    expect(res.status).toBe(200);
    const merged = await json(res);
    expect(merged.metadata).not.toHaveProperty('annotations');
    expect(merged.metadata.resourceVersion).toBe(rv);
  });
});
