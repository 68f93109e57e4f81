import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { crdFor, crdKinds, renderCrds } from '../../../src/api/crd.js';
import { chartCrdDir, crdDir } from '../../../src/api/gen-crds.js';
import { rawJsonSchema, type JsonSchema } from '../../../src/api/jsonschema.js';

const JUNCTORS = ['allOf', 'anyOf', 'oneOf', 'not'] as const;

/**
 * The structural-schema rules kube-apiserver enforces on CRDs (apiextensions validation), plus
 * the ones for list-type map. Returns one message per violation.
 */
function structuralViolations(s: JsonSchema, path: string, inJunctor = false): string[] {
  const out: string[] = [];
  if ('$ref' in s) out.push(`${path}: $ref is not allowed`);
  if (s.additionalProperties === false) out.push(`${path}: additionalProperties: false is not allowed`);
  if (s.properties && s.additionalProperties !== undefined) out.push(`${path}: properties and additionalProperties are exclusive`);
  if (s.uniqueItems === true) out.push(`${path}: uniqueItems is not allowed`);
  if (inJunctor) {
    for (const k of ['description', 'type', 'default', 'additionalProperties', 'nullable', 'properties', 'items']) {
      if (k in s) out.push(`${path}: ${k} inside a junctor`);
    }
  } else {
    const exempt = s['x-kubernetes-int-or-string'] === true || s['x-kubernetes-preserve-unknown-fields'] === true;
    if (!s.type && !exempt) out.push(`${path}: type is required`);
    if (s['x-kubernetes-int-or-string'] === true && s.type) out.push(`${path}: int-or-string must not set type`);
  }
  for (const j of JUNCTORS) {
    const subs = j === 'not' ? (s.not ? [s.not as JsonSchema] : []) : ((s[j] as JsonSchema[] | undefined) ?? []);
    const intOrString =
      j === 'anyOf' &&
      s['x-kubernetes-int-or-string'] === true &&
      JSON.stringify(subs) === JSON.stringify([{ type: 'integer' }, { type: 'string' }]);
    if (!intOrString) subs.forEach((sub, i) => out.push(...structuralViolations(sub, `${path}.${j}[${i}]`, true)));
  }
  for (const [k, v] of Object.entries((s.properties as Record<string, JsonSchema> | undefined) ?? {})) {
    out.push(...structuralViolations(v, `${path}.${k}`));
  }
  if (s.items) out.push(...structuralViolations(s.items as JsonSchema, `${path}[]`));
  if (s.additionalProperties && typeof s.additionalProperties === 'object') {
    out.push(...structuralViolations(s.additionalProperties as JsonSchema, `${path}{}`));
  }
  if (s['x-kubernetes-list-type'] === 'map') {
    const items = s.items as JsonSchema | undefined;
    const keys = (s['x-kubernetes-list-map-keys'] as string[] | undefined) ?? [];
    if (s.type !== 'array' || items?.type !== 'object' || keys.length === 0) out.push(`${path}: bad list-type map`);
    const props = (items?.properties as Record<string, JsonSchema> | undefined) ?? {};
    const required = (items?.required as string[] | undefined) ?? [];
    for (const key of keys) {
      const p = props[key];
      if (!p) out.push(`${path}: map key ${key} is not a property`);
      else if (!required.includes(key) && p.default === undefined) out.push(`${path}: map key ${key} must be required or defaulted`);
      else if (!['string', 'integer', 'boolean'].includes(String(p.type))) out.push(`${path}: map key ${key} must be scalar`);
    }
  }
  return out;
}

/** JS-only regex features RE2 (Go) rejects: lookaround, backreferences, named groups the JS way. */
function nonRe2Patterns(s: unknown, found: string[] = []): string[] {
  if (Array.isArray(s)) s.forEach((x) => nonRe2Patterns(x, found));
  else if (s && typeof s === 'object') {
    for (const [k, v] of Object.entries(s)) {
      if (k === 'pattern' && typeof v === 'string' && /\(\?[=!<]|\\[1-9]|\\k</.test(v)) found.push(v);
      else nonRe2Patterns(v, found);
    }
  }
  return found;
}

describe('generated CRDs', () => {
  it.each([
    ['manifests/crds', crdDir],
    ['charts/berth/crds', chartCrdDir],
  ])('match %s on disk (run npm run gen after changing src/api)', (label, dir) => {
    const expected = renderCrds();
    const onDisk = readdirSync(dir).filter((f) => f.endsWith('.berth.dev.yaml'));
    expect(onDisk.sort(), `stale or missing CRD files in ${label}: run npm run gen`).toEqual([...expected.keys()].sort());
    for (const [name, text] of expected) {
      const current = readFileSync(join(dir, name), 'utf8');
      expect(current === text, `${label}/${name} is out of date: run npm run gen`).toBe(true);
    }
  });

  it('cover the berth.dev kinds only, with names, scope, subresources and columns', () => {
    expect(crdKinds().map((k) => k.kind)).toEqual(['Image', 'Container', 'Volume', 'Network', 'Node', 'GitSync']);
    const files = renderCrds();
    for (const k of crdKinds()) {
      const crd = parse(files.get(`${k.plural}.berth.dev.yaml`)!) as JsonSchema;
      expect(crd).toEqual(JSON.parse(JSON.stringify(crdFor(k))));
      expect(crd).toMatchObject({
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: `${k.plural}.berth.dev` },
        spec: {
          group: 'berth.dev',
          scope: k.namespaced ? 'Namespaced' : 'Cluster',
          names: { kind: k.kind, listKind: k.listKind, plural: k.plural, singular: k.singular, categories: ['berth'] },
        },
      });
      const version = ((crd.spec as JsonSchema).versions as JsonSchema[])[0]!;
      expect(version).toMatchObject({ name: 'v1alpha1', served: true, storage: true, subresources: { status: {} } });
      expect(version.additionalPrinterColumns).toEqual(
        k.printerColumns.map((c) => expect.objectContaining({ name: c.name, type: c.type, jsonPath: c.jsonPath })),
      );
      expect(version.selectableFields ?? []).toEqual(k.selectableFields.map((f) => ({ jsonPath: `.${f}` })));
    }
    const ctr = parse(files.get('containers.berth.dev.yaml')!) as { spec: { names: { shortNames: string[] } } };
    expect(ctr.spec.names.shortNames).toEqual(['ctr']);
  });

  it('have structural schemas a real kube-apiserver accepts', () => {
    for (const k of crdKinds()) {
      const schema = ((crdFor(k).spec as JsonSchema).versions as JsonSchema[])[0]!.schema as { openAPIV3Schema: JsonSchema };
      const root = schema.openAPIV3Schema;
      expect(structuralViolations(root, k.kind)).toEqual([]);
      expect(nonRe2Patterns(root)).toEqual([]);
      const props = root.properties as Record<string, JsonSchema>;
      expect(props.metadata).toEqual({ type: 'object' });
      expect(props.apiVersion?.type).toBe('string');
      expect(props.kind?.type).toBe('string');
      expect(JSON.stringify(root)).not.toMatch(/x-berth-|x-kubernetes-group-version-kind|"format":"(?!date-time|uri)/);
    }
  });

  it('checker rejects what zod emits unconverted (so a pass means something)', () => {
    const raw = rawJsonSchema(crdKinds().find((k) => k.kind === 'Container')!.schema);
    const v = structuralViolations(raw, 'raw');
    expect(v).toEqual(expect.arrayContaining([expect.stringMatching(/additionalProperties: false is not allowed/)]));
    expect(v).toEqual(expect.arrayContaining([expect.stringMatching(/type inside a junctor/)]));
  });

  it('carry defaults and unions the way Kubernetes applies them', () => {
    const image = crdKinds().find((k) => k.kind === 'Image')!;
    const root = (((crdFor(image).spec as JsonSchema).versions as JsonSchema[])[0]!.schema as { openAPIV3Schema: JsonSchema })
      .openAPIV3Schema;
    const spec = (root.properties as Record<string, JsonSchema>).spec!;
    const source = (spec.properties as Record<string, JsonSchema>).source!;
    expect(source.default).toEqual({ pull: {} });
    expect(source.oneOf).toEqual([{ required: ['pull'] }, { required: ['build'] }, { required: ['import'] }]);
    expect((spec.properties as Record<string, JsonSchema>).pullPolicy?.default).toBe('IfNotPresent');
    expect(spec.required).toEqual(['ref']);

    const container = crdKinds().find((k) => k.kind === 'Container')!;
    const cRoot = (((crdFor(container).spec as JsonSchema).versions as JsonSchema[])[0]!.schema as { openAPIV3Schema: JsonSchema })
      .openAPIV3Schema;
    const cSpec = (cRoot.properties as Record<string, JsonSchema>).spec!;
    const limits = (((cSpec.properties as Record<string, JsonSchema>).resources!.properties as Record<string, JsonSchema>).limits!
      .properties as Record<string, JsonSchema>).memory!;
    expect(limits).toMatchObject({ anyOf: [{ type: 'integer' }, { type: 'string' }], 'x-kubernetes-int-or-string': true });
    expect(cRoot.required).toEqual(['spec']);
  });
});
