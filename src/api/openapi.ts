import { createHash } from 'node:crypto';
import type { KindInfo } from './kind.js';
import { objectMeta } from './meta.js';
import { rawJsonSchema, toOpenApi, type JsonSchema } from './jsonschema.js';
import { kinds } from './registry.js';

/**
 * OpenAPI v3 documents in the shape kube-apiserver serves them, so kubectl and client-go read
 * them unchanged:
 * - GET /openapi/v3 -> openapiV3Index(): `{paths: {'apis/berth.dev/v1alpha1': {serverRelativeURL}}}`
 * - GET /openapi/v3/apis/berth.dev/v1alpha1 -> openapiV3GroupVersion('apis/berth.dev/v1alpha1')
 *
 * kubectl explain finds a resource's GVK on the operations of its paths
 * (`/apis/G/V/namespaces/{namespace}/PLURAL/{name}`), then the component schema whose
 * x-kubernetes-group-version-kind lists that GVK, and follows $ref / allOf from there.
 * kubectl apply looks for the `fieldValidation` parameter on PATCH to decide that the server
 * validates fields itself.
 */

export const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';
export const LIST_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta';
export const STATUS = 'io.k8s.apimachinery.pkg.apis.meta.v1.Status';
export const DELETE_OPTIONS = 'io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions';
export const PATCH = 'io.k8s.apimachinery.pkg.apis.meta.v1.Patch';
export const WATCH_EVENT = 'io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent';
export const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

/** Component name: 'dev.berth.v1alpha1.Container'; core kinds: 'io.k8s.api.core.v1.Namespace'. */
export function schemaNameOf(k: Pick<KindInfo, 'group' | 'version'>, kind: string): string {
  if (!k.group) return `io.k8s.api.core.${k.version}.${kind}`;
  // Kubernetes' own groups (rbac.authorization.k8s.io): io.k8s.api.rbac.v1.Role, as kube-apiserver names them
  if (k.group.endsWith('.k8s.io')) return `io.k8s.api.${k.group.split('.')[0]}.${k.version}.${kind}`;
  return `${k.group.split('.').reverse().join('.')}.${k.version}.${kind}`;
}

/** 'apis/berth.dev/v1alpha1' or 'api/v1'. */
export function groupVersionPathOf(k: Pick<KindInfo, 'group' | 'version'>): string {
  return k.group ? `apis/${k.group}/${k.version}` : `api/${k.version}`;
}

const API_VERSION_DESC =
  'APIVersion defines the versioned schema of this representation of an object. Servers convert recognized schemas to the latest internal value and may reject unrecognized values.';
const KIND_DESC =
  'Kind is a string value representing the REST resource this object represents, in CamelCase. Servers may infer it from the endpoint the client submits requests to. Cannot be updated.';

const typeMetaProps = (): JsonSchema => ({
  apiVersion: { type: 'string', description: API_VERSION_DESC },
  kind: { type: 'string', description: KIND_DESC },
});

const objectMetaDescriptions: Record<string, string> = {
  name: 'Name of the object, unique within its namespace (or cluster, for cluster-scoped kinds). Cannot be updated.',
  generateName:
    'Prefix from which the server generates a unique name when name is empty: the name is the prefix plus a random suffix.',
  namespace: 'Namespace the object lives in. Empty for cluster-scoped objects. Cannot be updated.',
  uid: 'Unique ID the server assigns on creation; never reused, even for an object re-created with the same name. Read-only.',
  resourceVersion:
    'Opaque version of this object, changed by every write. Send it back on update for optimistic concurrency; also where list and watch resume. Read-only.',
  generation: 'Sequence number of the desired state; increases when spec changes. Read-only.',
  creationTimestamp: 'When the object was created, in RFC 3339 (UTC). Read-only.',
  deletionTimestamp:
    'When the object is to be deleted. Set by the server when deletion is requested while finalizers remain; the object goes once they are all removed. Read-only.',
  deletionGracePeriodSeconds: 'Seconds allowed for graceful termination once deletionTimestamp is set. Read-only.',
  labels: 'Key/value pairs used to organize and select objects (label selectors).',
  annotations: 'Unstructured key/value data for tools and people; not used for selection.',
  finalizers:
    'Conditions that must be cleared before the object is removed from the store. Each entry names a controller that will remove it after cleaning up.',
  ownerReferences:
    'Objects this one depends on. When every owner is deleted the object is garbage-collected; a controller reference marks the managing owner.',
  managedFields:
    'Which manager owns which fields, maintained by server-side apply. Internal bookkeeping; users rarely need to read or set it.',
};

const ownerReferenceDescriptions: Record<string, string> = {
  apiVersion: 'API version of the owner.',
  kind: 'Kind of the owner.',
  name: 'Name of the owner.',
  uid: 'UID of the owner.',
  controller: 'True when the owner is the managing controller. At most one owner reference may set it.',
  blockOwnerDeletion: 'With foreground deletion, the owner is not removed until this object is.',
};

function withDescriptions(schema: JsonSchema, descriptions: Record<string, string>): JsonSchema {
  const props = schema.properties as Record<string, JsonSchema> | undefined;
  if (!props) return schema;
  const out: Record<string, JsonSchema> = {};
  for (const [k, v] of Object.entries(props)) out[k] = descriptions[k] ? { ...v, description: descriptions[k] } : v;
  return { ...schema, properties: out };
}

function objectMetaSchema(): JsonSchema {
  const js = toOpenApi(rawJsonSchema(objectMeta), { quantity: `#/components/schemas/${QUANTITY}` });
  const described = withDescriptions(js, objectMetaDescriptions);
  const props = described.properties as Record<string, JsonSchema>;
  for (const t of ['creationTimestamp', 'deletionTimestamp']) {
    if (props[t]) props[t] = { ...props[t], format: 'date-time' };
  }
  const owners = props.ownerReferences;
  if (owners && typeof owners.items === 'object' && owners.items !== null) {
    props.ownerReferences = { ...owners, items: withDescriptions(owners.items as JsonSchema, ownerReferenceDescriptions) };
  }
  return {
    ...described,
    description:
      'ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.',
  };
}

function metaSchemas(): Record<string, JsonSchema> {
  return {
    [OBJECT_META]: objectMetaSchema(),
    [LIST_META]: {
      type: 'object',
      description: 'ListMeta describes metadata that synthetic resources must have, including lists.',
      properties: {
        resourceVersion: { type: 'string', description: 'Revision the list is consistent with; start a watch from here.' },
        continue: { type: 'string', description: 'Token for the next page, when the list was limited and more items remain.' },
        remainingItemCount: { type: 'integer', format: 'int64', description: 'Items left after this page, when known.' },
      },
    },
    [STATUS]: {
      type: 'object',
      description: 'Status is the return value for calls that do not return other objects, and the body of every error.',
      properties: {
        ...typeMetaProps(),
        metadata: { allOf: [ref(LIST_META)], description: 'Standard list metadata.' },
        status: { type: 'string', description: 'Success or Failure.' },
        message: { type: 'string', description: 'Human-readable description of the status.' },
        reason: { type: 'string', description: 'Machine-readable reason, e.g. NotFound, AlreadyExists, Conflict, Invalid.' },
        code: { type: 'integer', format: 'int32', description: 'HTTP status code.' },
        details: {
          type: 'object',
          description: 'Extended data about the failure.',
          properties: {
            name: { type: 'string' },
            group: { type: 'string' },
            kind: { type: 'string' },
            uid: { type: 'string' },
            retryAfterSeconds: { type: 'integer', format: 'int32' },
            causes: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  reason: { type: 'string', description: 'Machine-readable cause, e.g. FieldValueInvalid.' },
                  message: { type: 'string', description: 'Human-readable description of the cause.' },
                  field: { type: 'string', description: 'Path of the field at fault, e.g. spec.volumeMounts[0].mountPath.' },
                },
              },
            },
          },
        },
      },
      'x-kubernetes-group-version-kind': [{ group: '', kind: 'Status', version: 'v1' }],
    },
    [DELETE_OPTIONS]: {
      type: 'object',
      description: 'DeleteOptions may be provided when deleting an API object.',
      properties: {
        ...typeMetaProps(),
        dryRun: { type: 'array', items: { type: 'string' }, description: 'All: do not persist.' },
        gracePeriodSeconds: { type: 'integer', format: 'int64' },
        propagationPolicy: { type: 'string', description: 'Orphan, Background or Foreground.' },
        preconditions: {
          type: 'object',
          properties: { uid: { type: 'string' }, resourceVersion: { type: 'string' } },
        },
      },
    },
    [PATCH]: {
      type: 'object',
      description: 'Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.',
    },
    [WATCH_EVENT]: {
      type: 'object',
      description: 'Event represents a single event to a watched resource.',
      required: ['type', 'object'],
      properties: {
        type: { type: 'string', description: 'ADDED, MODIFIED, DELETED, BOOKMARK or ERROR.' },
        object: { type: 'object', description: 'The object, or a Status for ERROR.' },
      },
    },
    // No `type`, as in Kubernetes' own v3 spec: kubectl explain then prints <Quantity>.
    [QUANTITY]: {
      oneOf: [{ type: 'string' }, { type: 'number' }],
      description:
        'Quantity is a number with an optional suffix: m (milli), k, M, G, T, P, E (powers of 1000) or Ki, Mi, Gi, Ti, Pi, Ei (powers of 1024), e.g. 500m, 1.5, 512Mi. A plain JSON number is also accepted.',
    },
  };
}

function kindSchema(k: KindInfo): JsonSchema {
  const js = toOpenApi(rawJsonSchema(k.schema), { quantity: `#/components/schemas/${QUANTITY}` });
  const props = { ...(js.properties as Record<string, JsonSchema>) };
  Object.assign(props, typeMetaProps());
  props.metadata = {
    allOf: [ref(OBJECT_META)],
    description: "Standard object's metadata: name, namespace, labels, annotations and what the server maintains.",
  };
  const required = Array.isArray(js.required) ? js.required.filter((r) => r !== 'apiVersion' && r !== 'kind') : [];
  const out: JsonSchema = { description: k.description, type: 'object', properties: props };
  if (required.length) out.required = required;
  out['x-kubernetes-group-version-kind'] = [{ group: k.group, kind: k.kind, version: k.version }];
  return out;
}

function listSchema(k: KindInfo): JsonSchema {
  return {
    description: `${k.listKind} is a list of ${k.kind} objects.`,
    type: 'object',
    required: ['items'],
    properties: {
      ...typeMetaProps(),
      items: { type: 'array', description: `List of ${k.plural}.`, items: ref(schemaNameOf(k, k.kind)) },
      metadata: { allOf: [ref(LIST_META)], description: 'Standard list metadata.' },
    },
    'x-kubernetes-group-version-kind': [{ group: k.group, kind: k.listKind, version: k.version }],
  };
}

type Param = JsonSchema;

const q = (name: string, type: 'string' | 'boolean' | 'integer', description: string): Param => ({
  name,
  in: 'query',
  description,
  schema: { type, uniqueItems: true },
});

const prettyParam = q('pretty', 'string', "If 'true', the output is pretty printed.");
const dryRunParam = q('dryRun', 'string', 'When present (All), the request is validated but nothing is persisted.');
const fieldManagerParam = q('fieldManager', 'string', 'Name of the actor making the change, recorded in managedFields.');
const fieldValidationParam = q(
  'fieldValidation',
  'string',
  'How the server handles unknown or duplicate fields: Ignore, Warn (the default) or Strict.',
);
const forceParam = q('force', 'boolean', 'Server-side apply: take ownership of fields another manager owns.');

const listParams: Param[] = [
  q('allowWatchBookmarks', 'boolean', 'Ask for BOOKMARK events in a watch.'),
  q('continue', 'string', 'Token from a previous page of a limited list.'),
  q('fieldSelector', 'string', 'Restrict the list by field values, e.g. spec.nodeName=node1.'),
  q('labelSelector', 'string', 'Restrict the list by labels, e.g. app=web,tier!=db.'),
  q('limit', 'integer', 'Maximum number of items to return; continue fetches the rest.'),
  q('resourceVersion', 'string', 'Revision to list or watch from.'),
  q('resourceVersionMatch', 'string', 'How resourceVersion applies to a list: Exact or NotOlderThan.'),
  q('sendInitialEvents', 'boolean', 'Start a watch with ADDED events for the current state.'),
  q('timeoutSeconds', 'integer', 'Ends a list or watch call after this many seconds.'),
  q('watch', 'boolean', 'Watch for changes instead of listing.'),
];

const deleteParams: Param[] = [
  dryRunParam,
  q('gracePeriodSeconds', 'integer', 'Seconds before the object is deleted; 0 deletes immediately.'),
  q('propagationPolicy', 'string', 'Garbage collection of dependents: Orphan, Background or Foreground.'),
];

const pathParam = (name: 'name' | 'namespace'): Param => ({
  name,
  in: 'path',
  required: true,
  description: name === 'name' ? 'Name of the object.' : 'Object name and auth scope, such as for teams and projects.',
  schema: { type: 'string', uniqueItems: true },
});

const jsonContent = (schema: JsonSchema): JsonSchema => ({
  'application/json': { schema },
  'application/yaml': { schema },
});

function camel(s: string): string {
  return s
    .split(/[.-]/)
    .filter(Boolean)
    .map((p) => p[0]!.toUpperCase() + p.slice(1))
    .join('');
}

function pathsFor(k: KindInfo): Record<string, JsonSchema> {
  const gvk = { group: k.group, version: k.version, kind: k.kind };
  const prefix = k.group ? `/apis/${k.group}/${k.version}` : `/api/${k.version}`;
  const scope = k.namespaced ? '/namespaces/{namespace}' : '';
  const collection = `${prefix}${scope}/${k.plural}`;
  const item = `${collection}/{name}`;
  const idBase = `${k.group ? camel(k.group) : 'Core'}${camel(k.version)}`;
  const ns = k.namespaced ? 'Namespaced' : '';
  const tag = `${k.group ? k.group.replace(/\./g, '') : 'core'}_${k.version}`;
  const self = ref(schemaNameOf(k, k.kind));
  const list = ref(schemaNameOf(k, k.listKind));
  const patchTypes = ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml'];
  if (!k.group) patchTypes.push('application/strategic-merge-patch+json');

  const describe: Record<string, string> = {
    list: `list or watch objects of kind ${k.kind}`,
    create: `create a ${k.kind}`,
    deletecollection: `delete collection of ${k.kind}`,
    read: `read the specified ${k.kind}`,
    replace: `replace the specified ${k.kind}`,
    patch: `partially update the specified ${k.kind}`,
    delete: `delete a ${k.kind}`,
  };
  const operation = (
    verb: string,
    action: string,
    suffix: string,
    params: Param[],
    ok: JsonSchema,
    extra: JsonSchema = {},
  ): JsonSchema => ({
    tags: [tag],
    description: suffix.endsWith('Status') ? `${verb} status of the specified ${k.kind}` : (describe[verb] ?? verb),
    operationId: `${verb}${idBase}${ns}${suffix}`,
    parameters: [prettyParam, ...params],
    responses: { '200': { description: 'OK', content: jsonContent(ok) }, '401': { description: 'Unauthorized' } },
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk,
    ...extra,
  });
  const body = (schema: JsonSchema): JsonSchema => ({ requestBody: { required: true, content: { '*/*': { schema } } } });
  const patchBody: JsonSchema = {
    requestBody: { required: true, content: Object.fromEntries(patchTypes.map((t) => [t, { schema: ref(PATCH) }])) },
  };
  const scopeParams = k.namespaced ? [pathParam('namespace')] : [];
  const writeParams = [dryRunParam, fieldManagerParam, fieldValidationParam];

  const paths: Record<string, JsonSchema> = {
    [collection]: {
      parameters: scopeParams,
      get: operation('list', 'list', k.kind, listParams, list),
      post: operation('create', 'post', k.kind, writeParams, self, body(self)),
      delete: operation('deletecollection', 'deletecollection', k.kind, [...listParams, ...deleteParams], ref(STATUS), body(ref(DELETE_OPTIONS))),
    },
    [item]: {
      parameters: [...scopeParams, pathParam('name')],
      get: operation('read', 'get', k.kind, [], self),
      put: operation('replace', 'put', k.kind, writeParams, self, body(self)),
      patch: operation('patch', 'patch', k.kind, [...writeParams, forceParam], self, patchBody),
      delete: operation('delete', 'delete', k.kind, deleteParams, self, body(ref(DELETE_OPTIONS))),
    },
  };
  if (k.hasStatus) {
    paths[`${item}/status`] = {
      parameters: [...scopeParams, pathParam('name')],
      get: operation('read', 'get', `${k.kind}Status`, [], self),
      put: operation('replace', 'put', `${k.kind}Status`, writeParams, self, body(self)),
      patch: operation('patch', 'patch', `${k.kind}Status`, [...writeParams, forceParam], self, patchBody),
    };
  }
  if (k.namespaced) {
    paths[`${prefix}/${k.plural}`] = {
      get: {
        ...operation('list', 'list', `${k.kind}ForAllNamespaces`, listParams, list),
        operationId: `list${idBase}${k.kind}ForAllNamespaces`,
      },
    };
  }
  return paths;
}

function buildGroupVersion(path: string, gvKinds: KindInfo[]): JsonSchema {
  const schemas: Record<string, JsonSchema> = metaSchemas();
  const paths: Record<string, JsonSchema> = {};
  for (const k of gvKinds) {
    schemas[schemaNameOf(k, k.kind)] = kindSchema(k);
    schemas[schemaNameOf(k, k.listKind)] = listSchema(k);
    Object.assign(paths, pathsFor(k));
  }
  const sorted = Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b)));
  return {
    openapi: '3.0.0',
    info: { title: 'Berth', version: path.replace(/^apis?\//, '') },
    paths,
    components: { schemas: sorted },
  };
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v)) deepFreeze(child);
  }
  return v;
}

interface BuiltDoc {
  doc: JsonSchema;
  hash: string;
}

let built: Map<string, BuiltDoc> | undefined;

/** Builds every group-version document once; the kinds are fixed at load time. */
function documents(): Map<string, BuiltDoc> {
  if (built) return built;
  const byPath = new Map<string, KindInfo[]>();
  for (const k of kinds) {
    const p = groupVersionPathOf(k);
    byPath.set(p, [...(byPath.get(p) ?? []), k]);
  }
  built = new Map();
  for (const [p, ks] of byPath) {
    const doc = deepFreeze(buildGroupVersion(p, ks));
    const hash = createHash('sha512').update(JSON.stringify(doc)).digest('hex').toUpperCase();
    built.set(p, { doc, hash });
  }
  return built;
}

export interface OpenApiV3Index {
  paths: Record<string, { serverRelativeURL: string }>;
}

/** The /openapi/v3 discovery document. */
export function openapiV3Index(): OpenApiV3Index {
  const paths: OpenApiV3Index['paths'] = {};
  for (const [p, { hash }] of documents()) paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${hash}` };
  return { paths };
}

function normalizeGroupVersionPath(path: string): string {
  return path.split('?')[0]!.replace(/^\/+/, '').replace(/^openapi\/v3\//, '').replace(/\/+$/, '');
}

/**
 * The document for one group-version: 'apis/berth.dev/v1alpha1' or 'api/v1' (a leading '/' or
 * '/openapi/v3/' prefix and a query string are tolerated). undefined for an unknown one.
 * Documents are built once and frozen; callers must not modify them.
 */
export function openapiV3GroupVersion(groupVersionPath: string): JsonSchema | undefined {
  return documents().get(normalizeGroupVersionPath(groupVersionPath))?.doc;
}

/** The hash in the index's serverRelativeURL, usable as an ETag. */
export function openapiV3Hash(groupVersionPath: string): string | undefined {
  return documents().get(normalizeGroupVersionPath(groupVersionPath))?.hash;
}
