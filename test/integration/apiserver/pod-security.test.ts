/**
 * Container admission per namespace (issue 17, deliver 2), rule by rule: the berth.dev/enforce
 * label (privileged, baseline, restricted; baseline by default), each refusal a 403 naming the
 * field and the rule, for the admin too; a change that leaves spec alone is not judged again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/api-server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ store: 'memory' });
  for (const [name, level] of [['base', undefined], ['priv', 'privileged'], ['strict', 'restricted']] as const) {
    const res = await t.api('/api/v1/namespaces', { method: 'POST', json: { metadata: { name, ...(level ? { labels: { 'berth.dev/enforce': level } } : {}) } } });
    expect(res.status).toBe(201);
  }
});
afterAll(async () => {
  await t.stop();
});

let n = 0;
async function create(ns: string, spec: Record<string, unknown>): Promise<{ status: number; body: Record<string, any> }> {
  const res = await t.api(`/apis/berth.dev/v1alpha1/namespaces/${ns}/containers`, {
    method: 'POST',
    json: { apiVersion: 'berth.dev/v1alpha1', kind: 'Container', metadata: { name: `c${n++}` }, spec: { image: 'busybox:latest', ...spec } },
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const restrictedOk = { runAsNonRoot: true, user: '1000', readOnlyRootFilesystem: true, capDrop: ['ALL'] };

const baselineRefusals: [string, Record<string, unknown>, string, string][] = [
  ['privileged', { privileged: true }, 'spec.privileged', 'privileged'],
  ['a host path', { volumeMounts: [{ hostPath: '/', mountPath: '/host' }] }, 'spec.volumeMounts[0].hostPath', 'hostPath volumes'],
  ['host network', { network: 'host' }, 'spec.network', 'host namespaces'],
  ['an added capability outside Docker default set', { capAdd: ['NET_ADMIN'] }, 'spec.capAdd[0]', 'capabilities'],
  ['ALL capabilities', { capAdd: ['ALL'] }, 'spec.capAdd[0]', 'capabilities'],
  ['an unconfined seccomp profile', { seccompProfile: 'Unconfined' }, 'spec.seccompProfile', 'seccomp'],
];

describe('baseline (the default)', () => {
  for (const [what, spec, field, rule] of baselineRefusals) {
    it(`refuses ${what} with a 403 naming ${field} and the rule`, async () => {
      const { status, body } = await create('base', spec);
      expect(status).toBe(403);
      expect(body.reason).toBe('Forbidden');
      expect(body.message).toContain(`violates PodSecurity "baseline" of namespace "base": ${rule} (${field}`);
      expect(body.details.causes).toEqual([expect.objectContaining({ field, reason: 'FieldValueForbidden' })]);
    });
  }

  it("takes capabilities of Docker's default set, RuntimeDefault seccomp and a named volume", async () => {
    expect((await create('base', { capAdd: ['CAP_CHOWN', 'NET_RAW'], seccompProfile: 'RuntimeDefault', volumeMounts: [{ name: 'data', mountPath: '/d' }] })).status).toBe(201);
  });

  it('judges a change of spec, not a change of labels', async () => {
    const { body } = await create('base', {});
    const url = `/apis/berth.dev/v1alpha1/namespaces/base/containers/${body.metadata.name}`;
    const merge = { 'content-type': 'application/merge-patch+json' };
    const bad = await t.api(url, { method: 'PATCH', headers: merge, body: JSON.stringify({ spec: { network: 'host' } }) });
    expect(bad.status).toBe(403);
    expect((await t.api(url, { method: 'PATCH', headers: merge, body: JSON.stringify({ metadata: { labels: { a: 'b' } } }) })).status).toBe(200);
  });
});

describe('privileged', () => {
  it('takes everything baseline refuses', async () => {
    expect((await create('priv', { privileged: true, network: 'host', capAdd: ['ALL'], seccompProfile: 'Unconfined', volumeMounts: [{ hostPath: '/', mountPath: '/host' }] })).status).toBe(201);
  });
});

describe('restricted', () => {
  it('takes a non-root container with a read-only root filesystem and no capabilities', async () => {
    expect((await create('strict', restrictedOk)).status).toBe(201);
    expect((await create('strict', { ...restrictedOk, capAdd: ['NET_BIND_SERVICE'] })).status).toBe(201);
  });

  const cases: [string, Record<string, unknown>, string][] = [
    ['no runAsNonRoot', { ...restrictedOk, runAsNonRoot: undefined }, 'spec.runAsNonRoot'],
    ['user root', { ...restrictedOk, user: 'root' }, 'spec.user'],
    ['user 0:0', { ...restrictedOk, user: '0:0' }, 'spec.user'],
    ['a writable root filesystem', { ...restrictedOk, readOnlyRootFilesystem: false }, 'spec.readOnlyRootFilesystem'],
    ['capabilities kept', { ...restrictedOk, capDrop: ['NET_RAW'] }, 'spec.capDrop'],
    ['an added default capability', { ...restrictedOk, capAdd: ['CHOWN'] }, 'spec.capAdd[0]'],
    ['an allowed-at-baseline host path', { ...restrictedOk, volumeMounts: [{ hostPath: '/srv', mountPath: '/s' }] }, 'spec.volumeMounts[0].hostPath'],
  ];
  for (const [what, spec, field] of cases) {
    it(`refuses ${what} (${field})`, async () => {
      const { status, body } = await create('strict', spec);
      expect(status).toBe(403);
      expect(body.details.causes.map((c: { field: string }) => c.field)).toContain(field);
    });
  }
});

describe('the label', () => {
  it('refuses a level that does not exist (422), and a stricter label applies to the next container', async () => {
    const bad = await t.api('/api/v1/namespaces/base', { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, body: JSON.stringify({ metadata: { labels: { 'berth.dev/enforce': 'lenient' } } }) });
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as { details: { causes: { field: string }[] } }).details.causes[0]!.field).toBe('metadata.labels[berth.dev/enforce]');
    const up = await t.api('/api/v1/namespaces/priv', { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, body: JSON.stringify({ metadata: { labels: { 'berth.dev/enforce': 'baseline' } } }) });
    expect(up.status).toBe(200);
    expect((await create('priv', { network: 'host' })).status).toBe(403);
  });
});

describe('--allowed-host-paths', () => {
  it('baseline takes a host path at or below an allowed one, component by component', async () => {
    const { podSecurityViolations } = await import('../../../src/apiserver/pod-security.js');
    const at = (hostPath: string) => podSecurityViolations({ volumeMounts: [{ hostPath, mountPath: '/m' }] }, 'baseline', ['/srv/data', '/var/log/']);
    expect(at('/srv/data')).toEqual([]);
    expect(at('/srv/data/app')).toEqual([]);
    expect(at('/var/log')).toEqual([]);
    expect(at('/srv/database')).toHaveLength(1);
    expect(at('/srv')).toHaveLength(1);
    expect(at('/')).toHaveLength(1);
  });
});
