/**
 * The generic registry: create, read, update, patch, apply and delete for every kind, with
 * Kubernetes semantics (generation, status subresource, finalizers, managedFields, dry run).
 * HTTP handlers and in-process controllers both go through here; nothing else writes the store.
 */
import { randomUUID } from 'node:crypto';
import { apiVersionOf, resourceOf, type KindInfo } from '../api/kind.js';
import type { ApiObject } from '../api/meta.js';
import {
  AlreadyExistsError,
  ConflictError,
  NotFoundError,
  type ListOptions,
  type ListResult,
  type ObjectKey,
  type Store,
} from '../store/types.js';
import { admit, type FieldValidation } from './admission.js';
import { conflictMessage, recordUpdate, serverSideApply } from './managed-fields.js';
import { generateName, nameProblem } from './names.js';
import { clone, deepEqual, desiredPart, isObject, nowRfc3339, type JsonObject } from './objects.js';
import { jsonPatch, mergePatch, strategicMergePatch, type PatchType } from './patch.js';
import { errors, successStatus, type StatusObject } from './status.js';

export interface WriteOptions {
  fieldManager: string;
  dryRun: boolean;
  fieldValidation: FieldValidation;
  force?: boolean;
}

export interface WriteResult {
  object: ApiObject;
  warnings: string[];
  /** 201 for creates, 200 otherwise. */
  code: number;
}

/** 'finalize' is the namespace controller's own door to Namespace spec.finalizers. */
export type Subresource = 'status' | 'finalize' | undefined;

export type PropagationPolicy = 'Background' | 'Foreground' | 'Orphan';

export interface DeleteOptions {
  dryRun: boolean;
  propagationPolicy?: PropagationPolicy;
  preconditions?: { uid?: string; resourceVersion?: string };
}

export type DeleteResult = { deleted: true; status: StatusObject; object: ApiObject } | { deleted: false; object: ApiObject };

const NAMESPACE_FINALIZER = 'kubernetes';
export const FOREGROUND_FINALIZER = 'foregroundDeletion';
const MAX_PATCH_ATTEMPTS = 5;

const isNamespaceKind = (k: KindInfo): boolean => k.group === '' && k.plural === 'namespaces';

function meta(obj: JsonObject): JsonObject {
  if (!isObject(obj.metadata)) obj.metadata = {};
  return obj.metadata as JsonObject;
}

/** Compare for no-op detection: the times in managedFields don't count as a change. */
function withoutVolatile(obj: ApiObject): JsonObject {
  const c = clone(obj) as JsonObject;
  const m = meta(c);
  delete m.resourceVersion;
  if (Array.isArray(m.managedFields)) m.managedFields = m.managedFields.map((e: JsonObject) => ({ ...e, time: undefined }));
  return c;
}

export interface ResourcesOptions {
  /** Called before an Orphan delete: drop ownerReferences to `owner` from its dependents. */
  orphanDependents?: (owner: ApiObject) => Promise<void>;
}

export class Resources {
  private readonly namespaceKind: KindInfo | undefined;

  constructor(
    private readonly store: Store,
    kinds: KindInfo[],
    private readonly options: ResourcesOptions = {},
  ) {
    this.namespaceKind = kinds.find(isNamespaceKind);
  }

  key(kind: KindInfo, namespace: string, name: string): ObjectKey {
    return { resource: resourceOf(kind), namespace: kind.namespaced ? namespace : '', name };
  }

  async get(kind: KindInfo, namespace: string, name: string): Promise<ApiObject> {
    const obj = await this.store.get(this.key(kind, namespace, name));
    if (!obj) throw errors.notFound(kind, name);
    return obj;
  }

  async list(kind: KindInfo, namespace: string, opts: Omit<ListOptions, 'namespace'>): Promise<ListResult> {
    return this.store.list(resourceOf(kind), { ...opts, namespace: kind.namespaced ? namespace : '' });
  }

  // ---- create -------------------------------------------------------------------------------

  async create(kind: KindInfo, namespace: string, body: unknown, opts: WriteOptions): Promise<WriteResult> {
    const obj = this.checkBody(kind, namespace, body, undefined);
    const m = meta(obj);
    if (!m.name && typeof m.generateName === 'string' && m.generateName) m.name = generateName(m.generateName);
    this.checkName(kind, obj);
    if (m.resourceVersion) throw errors.badRequest('resourceVersion should not be set on objects to be created');
    for (const f of ['uid', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields']) delete m[f];
    if (kind.hasStatus) delete obj.status;
    return this.insert(kind, obj as ApiObject, opts, undefined);
  }

  private async insert(kind: KindInfo, candidate: ApiObject, opts: WriteOptions, managed: ApiObject['metadata']['managedFields']): Promise<WriteResult> {
    if (kind.namespaced) await this.checkNamespaceWritable(candidate.metadata.namespace ?? '');
    if (isNamespaceKind(kind)) {
      candidate.spec = { ...(isObject(candidate.spec) ? candidate.spec : {}), finalizers: [NAMESPACE_FINALIZER] };
      candidate.status = { phase: 'Active' };
    }
    const { object, warnings } = admit(kind, candidate, opts.fieldValidation);
    const m = object.metadata;
    m.uid = randomUUID();
    m.creationTimestamp = nowRfc3339();
    m.generation = 1;
    m.managedFields = managed ?? recordUpdate(undefined, object, { manager: opts.fieldManager, operation: 'Update' }, kind.listMapKeys, apiVersionOf(kind));
    if (opts.dryRun) {
      const existing = await this.store.get(this.key(kind, m.namespace ?? '', m.name));
      if (existing) throw errors.alreadyExists(kind, m.name);
      return { object, warnings, code: 201 };
    }
    try {
      return { object: await this.store.create(this.key(kind, m.namespace ?? '', m.name), object), warnings, code: 201 };
    } catch (err) {
      if (err instanceof AlreadyExistsError) throw errors.alreadyExists(kind, m.name);
      throw err;
    }
  }

  // ---- update -------------------------------------------------------------------------------

  async replace(kind: KindInfo, namespace: string, name: string, body: unknown, opts: WriteOptions, sub: Subresource): Promise<WriteResult> {
    const next = this.checkBody(kind, namespace, body, name) as ApiObject;
    const rv = next.metadata.resourceVersion;
    if (!rv) {
      throw errors.invalid(kind, name, [{ reason: 'FieldValueInvalid', field: 'metadata.resourceVersion', message: 'must be specified for an update' }]);
    }
    const old = await this.get(kind, namespace, name);
    if (old.metadata.resourceVersion !== rv) throw errors.conflict(kind, name, 'the object has been modified; please apply your changes to the latest version and try again');
    try {
      return await this.commit(kind, old, this.scope(kind, old, next, sub), opts, sub);
    } catch (err) {
      if (err instanceof ApiConflictRetry) throw errors.conflict(kind, name, 'the object has been modified; please apply your changes to the latest version and try again');
      throw err;
    }
  }

  async patch(kind: KindInfo, namespace: string, name: string, type: PatchType, patch: unknown, opts: WriteOptions, sub: Subresource): Promise<WriteResult> {
    if (type === 'apply') return this.apply(kind, namespace, name, patch, opts, sub);
    if (type !== 'json' && !isObject(patch)) throw errors.badRequest('patch body must be a JSON object');
    for (let attempt = 1; ; attempt++) {
      const old = await this.get(kind, namespace, name);
      let next: JsonObject;
      if (type === 'json') next = jsonPatch(old as JsonObject, patch);
      else if (type === 'merge') next = mergePatch(old, patch) as JsonObject;
      else next = strategicMergePatch(old, patch, kind.listMapKeys) as JsonObject;
      if (!isObject(next)) throw errors.badRequest('patch must leave an object');
      const asked = isObject(next.metadata) ? next.metadata.resourceVersion : undefined;
      if (asked !== undefined && asked !== old.metadata.resourceVersion) {
        throw errors.conflict(kind, name, 'the object has been modified; please apply your changes to the latest version and try again');
      }
      const candidate = this.checkBody(kind, namespace, next, name) as ApiObject;
      try {
        return await this.commit(kind, old, this.scope(kind, old, candidate, sub), opts, sub);
      } catch (err) {
        if (err instanceof ApiConflictRetry && attempt < MAX_PATCH_ATTEMPTS) continue;
        if (err instanceof ApiConflictRetry) throw errors.conflict(kind, name, 'the object has been modified; please apply your changes to the latest version and try again');
        throw err;
      }
    }
  }

  private async apply(kind: KindInfo, namespace: string, name: string, body: unknown, opts: WriteOptions, sub: Subresource): Promise<WriteResult> {
    if (!opts.fieldManager) throw errors.badRequest('PATCH, fieldManager: Required value: is required for apply patch');
    const applied = this.checkBody(kind, namespace, body, name);
    const av = apiVersionOf(kind);
    for (let attempt = 1; ; attempt++) {
      const old = await this.store.get(this.key(kind, namespace, name));
      if (!old) {
        if (sub) throw errors.notFound(kind, name);
        const res = serverSideApply(undefined, applied, { manager: opts.fieldManager }, true, kind.listMapKeys, av);
        const candidate = res.object as ApiObject;
        this.checkName(kind, candidate);
        if (kind.hasStatus) delete candidate.status;
        const managed = candidate.metadata.managedFields;
        for (const f of ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds']) delete (candidate.metadata as JsonObject)[f];
        try {
          return await this.insert(kind, candidate, opts, managed);
        } catch (err) {
          if (err instanceof Error && 'code' in err && (err as { code: number }).code === 409 && attempt < MAX_PATCH_ATTEMPTS) continue;
          throw err;
        }
      }
      const appliedRv = isObject(applied.metadata) ? applied.metadata.resourceVersion : undefined;
      if (appliedRv !== undefined && appliedRv !== old.metadata.resourceVersion) {
        throw errors.conflict(kind, name, 'the object has been modified; please apply your changes to the latest version and try again');
      }
      const res = serverSideApply(old as JsonObject, applied, { manager: opts.fieldManager, ...(sub ? { subresource: sub } : {}) }, opts.force ?? false, kind.listMapKeys, av);
      if (res.conflicts.length > 0 && !opts.force) {
        throw errors.applyConflict(
          kind,
          name,
          conflictMessage(res.conflicts, av),
          res.conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with "${c.manager}" using ${av}`, field: c.path })),
        );
      }
      const candidate = this.scope(kind, old, res.object as ApiObject, sub);
      candidate.metadata.managedFields = (res.object as ApiObject).metadata.managedFields;
      try {
        return await this.commit(kind, old, candidate, opts, sub, true);
      } catch (err) {
        if (err instanceof ApiConflictRetry && attempt < MAX_PATCH_ATTEMPTS) continue;
        if (err instanceof ApiConflictRetry) throw errors.conflict(kind, name, 'the object has been modified; please apply your changes to the latest version and try again');
        throw err;
      }
    }
  }

  /** Keep what a write to this endpoint may not change: status on the main resource, everything but status on /status. */
  private scope(kind: KindInfo, old: ApiObject, next: ApiObject, sub: Subresource): ApiObject {
    if (sub === 'finalize') {
      const out = clone(old);
      out.spec = clone(next.spec);
      return out;
    }
    if (sub === 'status') {
      const out = clone(old);
      if (next.status === undefined) delete out.status;
      else out.status = clone(next.status);
      return out;
    }
    const out = clone(next);
    if (kind.hasStatus) {
      if (old.status === undefined) delete out.status;
      else out.status = clone(old.status);
    }
    return out;
  }

  /** Validate, bookkeep and write `next` over `old` (compare-and-swap); deletes when the last finalizer goes. */
  private async commit(kind: KindInfo, old: ApiObject, next: ApiObject, opts: WriteOptions, sub: Subresource, managedDone = false): Promise<WriteResult> {
    const m = next.metadata;
    const om = old.metadata;
    m.name = om.name;
    if (kind.namespaced) m.namespace = om.namespace;
    else delete m.namespace;
    m.uid = om.uid;
    m.creationTimestamp = om.creationTimestamp;
    m.resourceVersion = om.resourceVersion;
    if (om.deletionTimestamp) {
      m.deletionTimestamp = om.deletionTimestamp;
      m.deletionGracePeriodSeconds = om.deletionGracePeriodSeconds;
      const added = (m.finalizers ?? []).filter((f) => !(om.finalizers ?? []).includes(f));
      if (added.length > 0) {
        throw errors.forbidden(kind, om.name, `no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`);
      }
    } else {
      delete m.deletionTimestamp;
      delete m.deletionGracePeriodSeconds;
    }
    if (isNamespaceKind(kind) && sub !== 'finalize') next.spec = clone(old.spec);
    const { object, warnings } = admit(kind, next, opts.fieldValidation);
    const changedDesired = !deepEqual(desiredPart(old as JsonObject), desiredPart(object as JsonObject));
    object.metadata.generation = (om.generation ?? 1) + (changedDesired ? 1 : 0);
    if (!managedDone) {
      object.metadata.managedFields = recordUpdate(
        old as JsonObject,
        object as JsonObject,
        { manager: opts.fieldManager, operation: 'Update', ...(sub ? { subresource: sub } : {}) },
        kind.listMapKeys,
        apiVersionOf(kind),
      );
    }
    if (deepEqual(withoutVolatile(old), withoutVolatile(object))) return { object: old, warnings, code: 200 };
    const key = this.key(kind, om.namespace ?? '', om.name);
    const finished =
      object.metadata.deletionTimestamp !== undefined &&
      (object.metadata.finalizers ?? []).length === 0 &&
      !(isNamespaceKind(kind) && namespaceFinalizers(object).length > 0);
    if (opts.dryRun) return { object, warnings, code: 200 };
    try {
      if (finished) {
        const gone = await this.store.delete(key, om.resourceVersion);
        return { object: { ...gone, ...clone(object), metadata: { ...object.metadata, resourceVersion: gone.metadata.resourceVersion } }, warnings, code: 200 };
      }
      return { object: await this.store.update(key, object, om.resourceVersion ?? ''), warnings, code: 200 };
    } catch (err) {
      if (err instanceof ConflictError) throw new ApiConflictRetry();
      if (err instanceof NotFoundError) throw errors.notFound(kind, om.name);
      throw err;
    }
  }

  // ---- delete -------------------------------------------------------------------------------

  async delete(kind: KindInfo, namespace: string, name: string, opts: DeleteOptions): Promise<DeleteResult> {
    for (let attempt = 1; ; attempt++) {
      const old = await this.get(kind, namespace, name);
      const pre = opts.preconditions;
      if (pre?.uid && pre.uid !== old.metadata.uid) {
        throw errors.conflict(kind, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid ?? ''}`);
      }
      if (pre?.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion) {
        throw errors.conflict(kind, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion ?? ''}`);
      }
      const policy = opts.propagationPolicy ?? 'Background';
      const key = this.key(kind, namespace, name);
      const finalizers = [...(old.metadata.finalizers ?? [])];
      if (policy === 'Foreground' && !finalizers.includes(FOREGROUND_FINALIZER)) finalizers.push(FOREGROUND_FINALIZER);
      const pending = finalizers.length > 0 || (isNamespaceKind(kind) && namespaceFinalizers(old).length > 0);
      if (opts.dryRun) return pending ? { deleted: false, object: old } : { deleted: true, object: old, status: this.deletedStatus(kind, old) };
      if (policy === 'Orphan') await this.options.orphanDependents?.(old);
      try {
        if (pending) {
          if (old.metadata.deletionTimestamp && deepEqual(finalizers, old.metadata.finalizers ?? [])) return { deleted: false, object: old };
          const next = clone(old);
          next.metadata.finalizers = finalizers;
          next.metadata.deletionTimestamp ??= nowRfc3339();
          next.metadata.deletionGracePeriodSeconds ??= 0;
          if (isNamespaceKind(kind)) next.status = { ...(isObject(next.status) ? next.status : {}), phase: 'Terminating' };
          return { deleted: false, object: await this.store.update(key, next, old.metadata.resourceVersion ?? '') };
        }
        const gone = await this.store.delete(key, old.metadata.resourceVersion);
        return { deleted: true, object: gone, status: this.deletedStatus(kind, gone) };
      } catch (err) {
        if (err instanceof ConflictError && attempt < MAX_PATCH_ATTEMPTS) continue;
        if (err instanceof NotFoundError) throw errors.notFound(kind, name);
        if (err instanceof ConflictError) throw errors.conflict(kind, name, 'the object has been modified; please apply your changes to the latest version and try again');
        throw err;
      }
    }
  }

  /** Namespace controller: drop a namespace's spec.finalizers once its content is gone (it is then deleted). */
  async finalizeNamespace(name: string, fieldManager: string): Promise<void> {
    const kind = this.namespaceKind;
    if (!kind) return;
    const old = await this.get(kind, '', name);
    const next = clone(old);
    next.spec = { ...(isObject(next.spec) ? next.spec : {}), finalizers: [] };
    try {
      await this.commit(kind, old, next, { fieldManager, dryRun: false, fieldValidation: 'Strict' }, 'finalize');
    } catch (err) {
      if (!(err instanceof ApiConflictRetry)) throw err;
    }
  }

  private deletedStatus(kind: KindInfo, obj: ApiObject): StatusObject {
    return successStatus({ name: obj.metadata.name, group: kind.group, kind: kind.plural, ...(obj.metadata.uid ? { uid: obj.metadata.uid } : {}) });
  }

  // ---- checks -------------------------------------------------------------------------------

  /** The body is an object of this kind, in this namespace, with this name (when the path has one). */
  private checkBody(kind: KindInfo, namespace: string, body: unknown, name: string | undefined): JsonObject {
    if (!isObject(body)) throw errors.badRequest('the request body must be a JSON or YAML object');
    const obj = clone(body);
    const av = apiVersionOf(kind);
    if (obj.apiVersion === undefined) obj.apiVersion = av;
    if (obj.kind === undefined) obj.kind = kind.kind;
    if (obj.apiVersion !== av) throw errors.badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${av})`);
    if (obj.kind !== kind.kind) throw errors.badRequest(`the kind in the data (${String(obj.kind)}) does not match the expected kind (${kind.kind})`);
    if (obj.metadata !== undefined && !isObject(obj.metadata)) {
      throw errors.invalid(kind, name ?? '', [{ reason: 'FieldValueInvalid', field: 'metadata', message: 'must be an object' }]);
    }
    const m = meta(obj);
    if (kind.namespaced) {
      if (m.namespace !== undefined && m.namespace !== '' && m.namespace !== namespace) {
        throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      m.namespace = namespace;
    } else {
      delete m.namespace;
    }
    if (name !== undefined) {
      if (m.name !== undefined && m.name !== name) throw errors.badRequest(`the name of the object (${String(m.name)}) does not match the name on the URL (${name})`);
      m.name = name;
    }
    return obj;
  }

  private checkName(kind: KindInfo, obj: JsonObject): void {
    const m = meta(obj);
    if (typeof m.name !== 'string' || m.name === '') {
      throw errors.invalid(kind, '', [{ reason: 'FieldValueRequired', field: 'metadata.name', message: 'Required value: name or generateName is required' }]);
    }
    const problem = nameProblem(m.name, isNamespaceKind(kind));
    if (problem) throw errors.invalid(kind, m.name, [{ reason: 'FieldValueInvalid', field: 'metadata.name', message: `Invalid value: "${m.name}": ${problem}` }]);
  }

  private async checkNamespaceWritable(namespace: string): Promise<void> {
    if (!this.namespaceKind) return;
    const ns = await this.store.get(this.key(this.namespaceKind, '', namespace));
    if (!ns) throw errors.notFound(this.namespaceKind, namespace);
    if (ns.metadata.deletionTimestamp) {
      throw errors.forbidden(this.namespaceKind, namespace, `unable to create new content in namespace ${namespace} because it is being terminated`);
    }
  }
}

/** Thrown inside a write when the store's compare-and-swap lost; callers retry or report 409. */
class ApiConflictRetry extends Error {}

export function namespaceFinalizers(ns: ApiObject): string[] {
  const spec = ns.spec;
  return isObject(spec) && Array.isArray(spec.finalizers) ? (spec.finalizers as string[]) : [];
}
