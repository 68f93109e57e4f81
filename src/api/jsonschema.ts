import { z } from 'zod';

/**
 * zod -> JSON Schema in the two dialects Kubernetes tooling reads:
 * - OpenAPI v3 component schemas, for /openapi/v3 (kubectl explain, client-side tools);
 * - structural schemas, for CRD openAPIV3Schema (what a real kube-apiserver accepts: a type on
 *   every node, no $ref, no additionalProperties:false, only `required` inside oneOf).
 */

export type JsonSchema = { [key: string]: unknown };

export const QUANTITY_MARKER = 'x-berth-quantity';

/** Go-compatible form of meta.quantity's string pattern. */
export const QUANTITY_PATTERN = '^[0-9]+(\\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$';

const SAFE_INT_BOUND = Number.MAX_SAFE_INTEGER;

/** The input side of a schema (defaults are optional), as zod renders it for OpenAPI 3.0. */
export function rawJsonSchema(schema: z.ZodType): JsonSchema {
  const js = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' }) as JsonSchema;
  delete js.$schema;
  return js;
}

function isSchema(v: unknown): v is JsonSchema {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

type NodeRewrite = (node: JsonSchema) => JsonSchema;

/** Applies `rewrite` bottom-up to every subschema. */
function walk(node: JsonSchema, rewrite: NodeRewrite): JsonSchema {
  const out: JsonSchema = { ...node };
  if (isSchema(out.properties)) {
    const props: JsonSchema = {};
    for (const [k, v] of Object.entries(out.properties)) props[k] = isSchema(v) ? walk(v, rewrite) : v;
    out.properties = props;
  }
  if (isSchema(out.items)) out.items = walk(out.items, rewrite);
  if (isSchema(out.additionalProperties)) out.additionalProperties = walk(out.additionalProperties, rewrite);
  if (isSchema(out.not)) out.not = walk(out.not, rewrite);
  for (const key of ['allOf', 'anyOf', 'oneOf'] as const) {
    const list = out[key];
    if (Array.isArray(list)) out[key] = list.map((s: unknown) => (isSchema(s) ? walk(s, rewrite) : s));
  }
  return rewrite(out);
}

/** Noise zod emits that neither dialect wants. */
function tidy(node: JsonSchema): JsonSchema {
  const out = { ...node };
  if (out.additionalProperties === false) delete out.additionalProperties;
  delete out.propertyNames;
  delete out.$schema;
  if (out.type === 'integer') {
    if (out.maximum === SAFE_INT_BOUND) delete out.maximum;
    if (out.minimum === -SAFE_INT_BOUND) delete out.minimum;
  }
  // zod spells out the RFC 3339 grammar as a pattern; the format already says it.
  if (out.format === 'date-time') delete out.pattern;
  if (Array.isArray(out.required) && out.required.length === 0) delete out.required;
  if (isSchema(out.properties) && Object.keys(out.properties).length === 0 && out.type === 'object') delete out.properties;
  return out;
}

const STRUCTURAL_KEYS = new Set([
  'type', 'format', 'title', 'description', 'default', 'maximum', 'exclusiveMaximum', 'minimum', 'exclusiveMinimum',
  'maxLength', 'minLength', 'pattern', 'maxItems', 'minItems', 'multipleOf', 'enum', 'maxProperties', 'minProperties',
  'required', 'items', 'allOf', 'oneOf', 'anyOf', 'not', 'properties', 'additionalProperties', 'nullable', 'example',
  'externalDocs',
]);

/** Formats kube-apiserver knows; others would only draw warnings. */
const KNOWN_FORMATS = new Set([
  'date-time', 'date', 'duration', 'byte', 'int32', 'int64', 'float', 'double', 'uri', 'email', 'hostname', 'ipv4', 'ipv6',
  'cidr', 'mac', 'uuid', 'password',
]);

/** Structural-schema form of a converted zod schema, for CRD openAPIV3Schema. */
export function toStructural(js: JsonSchema): JsonSchema {
  return walk(js, (node) => {
    let out = tidy(node);
    if (out[QUANTITY_MARKER]) {
      out = {
        ...(out.description !== undefined ? { description: out.description } : {}),
        ...(out.default !== undefined ? { default: out.default } : {}),
        anyOf: [{ type: 'integer' }, { type: 'string' }],
        pattern: QUANTITY_PATTERN,
        'x-kubernetes-int-or-string': true,
      };
    }
    const clean: JsonSchema = {};
    // description and type first: easier to read in the generated YAML.
    for (const k of ['description', 'type']) if (out[k] !== undefined) clean[k] = out[k];
    for (const [k, v] of Object.entries(out)) {
      if (k === 'description' || k === 'type') continue;
      if (k === 'format' && !KNOWN_FORMATS.has(String(v))) continue;
      if (STRUCTURAL_KEYS.has(k) || (k.startsWith('x-kubernetes-') && k !== 'x-kubernetes-group-version-kind')) clean[k] = v;
    }
    return clean;
  });
}

/**
 * OpenAPI component form. `refs.quantity` names the Quantity component; fields of that type become
 * `$ref`s to it (wrapped in allOf when they carry their own description, as Kubernetes does).
 */
export function toOpenApi(js: JsonSchema, refs: { quantity: string }): JsonSchema {
  return walk(js, (node) => {
    const out = tidy(node);
    if (out[QUANTITY_MARKER]) {
      const ref = { $ref: refs.quantity };
      const extra: JsonSchema = {};
      if (out.description !== undefined) extra.description = out.description;
      if (out.default !== undefined) extra.default = out.default;
      return Object.keys(extra).length ? { allOf: [ref], ...extra } : ref;
    }
    return out;
  });
}

/** Paths of x-kubernetes-list-type: map lists and their keys, e.g. { 'spec.env': ['name'] }. */
export function listMapKeysOf(js: JsonSchema): Record<string, string[]> {
  const found: Record<string, string[]> = {};
  const visit = (node: JsonSchema, path: string): void => {
    if (node['x-kubernetes-list-type'] === 'map' && Array.isArray(node['x-kubernetes-list-map-keys'])) {
      found[path] = node['x-kubernetes-list-map-keys'].map(String);
    }
    if (isSchema(node.properties)) {
      for (const [k, v] of Object.entries(node.properties)) {
        if (isSchema(v)) visit(v, path ? `${path}.${k}` : k);
      }
    }
  };
  visit(js, '');
  return found;
}
