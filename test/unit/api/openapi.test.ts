import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { JsonSchema } from '../../../src/api/jsonschema.js';
import { OBJECT_META, openapiV3GroupVersion, openapiV3Hash, openapiV3Index, schemaNameOf } from '../../../src/api/openapi.js';
import { kinds } from '../../../src/api/registry.js';

type Doc = { paths: Record<string, Record<string, JsonSchema>>; components: { schemas: Record<string, JsonSchema> } };

const doc = (path: string): Doc => {
  const d = openapiV3GroupVersion(path);
  if (!d) throw new Error(`no document for ${path}`);
  return d as unknown as Doc;
};

function resolveRef(d: Doc, s: JsonSchema): JsonSchema {
  const ref = s.$ref;
  if (typeof ref !== 'string') return s;
  const name = ref.replace('#/components/schemas/', '');
  const target = d.components.schemas[name];
  if (!target) throw new Error(`dangling $ref ${ref}`);
  return target;
}

/** kubectl explain v2's lookup: GVK from the resource's paths, then the schema listing that GVK. */
function explainRoot(d: Doc, group: string, version: string, plural: string): JsonSchema {
  const prefix = group ? `/apis/${group}/${version}` : `/api/${version}`;
  const searchPaths = [
    `${prefix}/${plural}`,
    `${prefix}/${plural}/{name}`,
    `${prefix}/namespaces/{namespace}/${plural}`,
    `${prefix}/namespaces/{namespace}/${plural}/{name}`,
  ];
  let gvk: unknown;
  for (const p of searchPaths) {
    const item = d.paths[p];
    if (!item) continue;
    for (const m of ['get', 'post', 'put', 'patch', 'delete']) {
      const op = item[m] as JsonSchema | undefined;
      if (op?.['x-kubernetes-group-version-kind']) {
        gvk = op['x-kubernetes-group-version-kind'];
        break;
      }
    }
    if (gvk) break;
  }
  if (!gvk) throw new Error(`GVR ${group}/${version}/${plural} not found in paths`);
  const found = Object.values(d.components.schemas).find((s) =>
    ((s['x-kubernetes-group-version-kind'] as unknown[] | undefined) ?? []).some((g) => isDeepStrictEqual(g, gvk)),
  );
  if (!found) throw new Error(`GVK ${JSON.stringify(gvk)} not found in components`);
  return found;
}

/** Follows a field path the way kubectl explain's template does (properties, items, maps, allOf, $ref). */
function explainField(d: Doc, root: JsonSchema, fields: string[]): JsonSchema | undefined {
  let cur: JsonSchema = root;
  for (const f of fields) {
    let next: JsonSchema | undefined;
    const visit = (s: JsonSchema): void => {
      if (next) return;
      const r = resolveRef(d, s);
      const props = r.properties as Record<string, JsonSchema> | undefined;
      if (props?.[f]) next = props[f];
      else if (r.items) visit(r.items as JsonSchema);
      else if (r.additionalProperties && typeof r.additionalProperties === 'object') visit(r.additionalProperties as JsonSchema);
      else for (const sub of (r.allOf as JsonSchema[] | undefined) ?? []) visit(sub);
    };
    visit(cur);
    if (!next) return undefined;
    cur = next;
  }
  return cur;
}

function walkSchemas(s: JsonSchema, visit: (s: JsonSchema, path: string) => void, path = ''): void {
  visit(s, path);
  const props = s.properties as Record<string, JsonSchema> | undefined;
  for (const [k, v] of Object.entries(props ?? {})) walkSchemas(v, visit, path ? `${path}.${k}` : k);
  if (s.items) walkSchemas(s.items as JsonSchema, visit, `${path}[]`);
  if (s.additionalProperties && typeof s.additionalProperties === 'object') walkSchemas(s.additionalProperties as JsonSchema, visit, `${path}{}`);
  for (const key of ['allOf', 'anyOf', 'oneOf']) for (const sub of (s[key] as JsonSchema[] | undefined) ?? []) walkSchemas(sub, visit, path);
}

describe('/openapi/v3', () => {
  it('indexes one document per group-version, with a content hash', () => {
    const index = openapiV3Index();
    expect(Object.keys(index.paths).sort()).toEqual(['api/v1', 'apis/berth.dev/v1alpha1', 'apis/rbac.authorization.k8s.io/v1']);
    for (const [p, { serverRelativeURL }] of Object.entries(index.paths)) {
      expect(serverRelativeURL).toBe(`/openapi/v3/${p}?hash=${openapiV3Hash(p)}`);
      expect(serverRelativeURL).toMatch(/\?hash=[0-9A-F]{128}$/);
    }
    expect(openapiV3GroupVersion('/openapi/v3/apis/berth.dev/v1alpha1?hash=x')).toBe(openapiV3GroupVersion('apis/berth.dev/v1alpha1'));
    expect(openapiV3GroupVersion('apis/berth.dev/v1')).toBeUndefined();
    expect(openapiV3GroupVersion('apis/apps/v1')).toBeUndefined();
  });

  it('serves each kind under its reversed-domain name with its GVK', () => {
    const berth = doc('apis/berth.dev/v1alpha1');
    const core = doc('api/v1');
    expect(berth).toMatchObject({ openapi: '3.0.0' });
    const rbac = doc('apis/rbac.authorization.k8s.io/v1');
    for (const k of kinds) {
      const d = k.group === 'berth.dev' ? berth : k.group ? rbac : core;
      const name = schemaNameOf(k, k.kind);
      expect(name).toBe(k.group === 'berth.dev' ? `dev.berth.v1alpha1.${k.kind}` : k.group ? `io.k8s.api.rbac.v1.${k.kind}` : `io.k8s.api.core.v1.${k.kind}`);
      const s = d.components.schemas[name];
      expect(s?.['x-kubernetes-group-version-kind']).toEqual([{ group: k.group, kind: k.kind, version: k.version }]);
      expect(s?.description).toBe(k.description);
      expect((s?.properties as JsonSchema).metadata).toEqual({
        allOf: [{ $ref: `#/components/schemas/${OBJECT_META}` }],
        description: expect.any(String),
      });
      const list = d.components.schemas[schemaNameOf(k, k.listKind)];
      expect(list?.['x-kubernetes-group-version-kind']).toEqual([{ group: k.group, kind: k.listKind, version: k.version }]);
    }
    expect(core.components.schemas[OBJECT_META]).toBeDefined();
  });

  it('lets kubectl explain find fields and their descriptions', () => {
    const berth = doc('apis/berth.dev/v1alpha1');
    const ctr = explainRoot(berth, 'berth.dev', 'v1alpha1', 'containers');
    expect(ctr['x-kubernetes-group-version-kind']).toEqual([{ group: 'berth.dev', kind: 'Container', version: 'v1alpha1' }]);
    expect(explainField(berth, ctr, ['spec', 'image'])?.description).toMatch(/Image reference/);
    expect(explainField(berth, ctr, ['spec', 'volumeMounts', 'mountPath'])?.description).toMatch(/inside the container/);
    expect(explainField(berth, ctr, ['spec', 'restartPolicy'])?.enum).toEqual(['Always', 'OnFailure', 'Never']);
    expect(explainField(berth, ctr, ['spec', 'resources', 'limits', 'memory'])?.description).toMatch(/Memory limit/);
    expect(explainField(berth, ctr, ['metadata', 'labels'])?.description).toMatch(/organize and select/);
    expect(explainField(berth, ctr, ['status', 'conditions', 'lastTransitionTime'])?.description).toMatch(/status last changed/);
    expect(explainField(berth, ctr, ['spec', 'nope'])).toBeUndefined();

    const nodeRoot = explainRoot(berth, 'berth.dev', 'v1alpha1', 'nodes');
    expect(explainField(berth, nodeRoot, ['status', 'nodeInfo', 'cgroupVersion'])?.enum).toEqual(['v1', 'v2']);
    const img = explainRoot(berth, 'berth.dev', 'v1alpha1', 'images');
    expect(explainField(berth, img, ['spec', 'source', 'build', 'context', 'git', 'url'])?.description).toMatch(/Repository URL/);

    const core = doc('api/v1');
    const ns = explainRoot(core, '', 'v1', 'namespaces');
    expect(explainField(core, ns, ['status', 'phase'])?.enum).toEqual(['Active', 'Terminating']);
    const ev = explainRoot(core, '', 'v1', 'events');
    expect(explainField(core, ev, ['involvedObject', 'fieldPath'])?.description).toBeTruthy();
  });

  it('describes every field of the berth kinds', () => {
    const berth = doc('apis/berth.dev/v1alpha1');
    const missing: string[] = [];
    for (const k of kinds.filter((x) => x.group === 'berth.dev')) {
      const s = berth.components.schemas[schemaNameOf(k, k.kind)]!;
      walkSchemas(s, (node, path) => {
        const props = node.properties as Record<string, JsonSchema> | undefined;
        for (const [name, p] of Object.entries(props ?? {})) {
          if (!p.description) missing.push(`${k.kind}.${path ? `${path}.` : ''}${name}`);
        }
      });
    }
    expect(missing).toEqual([]);
  });

  it('resolves every $ref and keeps zod noise out', () => {
    for (const p of Object.keys(openapiV3Index().paths)) {
      const d = doc(p);
      const text = JSON.stringify(d);
      for (const m of text.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) {
        expect(d.components.schemas[m[1]!], m[1]).toBeDefined();
      }
      expect(text).not.toContain('x-berth-quantity');
      expect(text).not.toContain('"additionalProperties":false');
      expect(text).not.toContain('9007199254740991');
      expect(text).not.toContain('$schema');
    }
  });

  it('advertises server-side field validation on every PATCH, so kubectl skips client-side validation', () => {
    for (const p of Object.keys(openapiV3Index().paths)) {
      const d = doc(p);
      for (const k of kinds.filter((x) => p === (x.group ? `apis/${x.group}/${x.version}` : `api/${x.version}`))) {
        const gvk = { group: k.group, version: k.version, kind: k.kind };
        const patches = Object.values(d.paths)
          .map((item) => item.patch as JsonSchema | undefined)
          .filter((op): op is JsonSchema => !!op && isDeepStrictEqual(op['x-kubernetes-group-version-kind'], gvk));
        expect(patches.length, k.kind).toBeGreaterThan(0);
        for (const op of patches) {
          expect((op.parameters as JsonSchema[]).map((x) => x.name)).toContain('fieldValidation');
        }
      }
    }
  });

  it('lays out paths like kube-apiserver', () => {
    const berth = doc('apis/berth.dev/v1alpha1');
    expect(Object.keys(berth.paths)).toEqual(
      expect.arrayContaining([
        '/apis/berth.dev/v1alpha1/namespaces/{namespace}/containers',
        '/apis/berth.dev/v1alpha1/namespaces/{namespace}/containers/{name}',
        '/apis/berth.dev/v1alpha1/namespaces/{namespace}/containers/{name}/status',
        '/apis/berth.dev/v1alpha1/containers',
        '/apis/berth.dev/v1alpha1/nodes/{name}/status',
      ]),
    );
    expect(Object.keys(berth.paths).some((p) => p.includes('namespaces/{namespace}/nodes'))).toBe(false);
    const core = doc('api/v1');
    expect(Object.keys(core.paths)).toEqual(
      expect.arrayContaining(['/api/v1/namespaces/{name}', '/api/v1/namespaces/{namespace}/events/{name}', '/api/v1/events']),
    );
    expect(Object.keys(core.paths).some((p) => p.startsWith('/api/v1/namespaces/{namespace}/events/{name}/status'))).toBe(false);
    const read = berth.paths['/apis/berth.dev/v1alpha1/namespaces/{namespace}/containers/{name}']!.get as JsonSchema;
    expect(read).toMatchObject({ operationId: 'readBerthDevV1alpha1NamespacedContainer', 'x-kubernetes-action': 'get' });
  });

  it('returns frozen documents', () => {
    const d = doc('api/v1');
    expect(Object.isFrozen(d)).toBe(true);
    expect(Object.isFrozen(d.components.schemas)).toBe(true);
  });
});
