/**
 * The generic registry: create, read, update, patch and apply for every kind, with Kubernetes
 * semantics (generation, subresources, finalizers, managedFields, dry run); what is particular to a
 * kind comes from its strategy (strategy.ts), deletion from deletion.ts. HTTP handlers and in-process
 * controllers both go through here; nothing else writes the store.
 */
import { randomUUID } from 'node:crypto';
import { apiVersionOf, type KindInfo } from '../api/kind.js';
import type { ApiObject } from '../api/meta.js';
import { AlreadyExistsError, ConflictError, NotFoundError, type ListOptions, type ListResult, type ObjectKey, type Store } from '../store/types.js';
import { admit, type FieldValidation } from './admission.js';
import type { AdmissionPlugin, AdmissionRequest } from './admission-plugins.js';
import type { UserInfo } from './auth/authn.js';
import { Deletions, type DeleteOptions, type DeleteResult } from './deletion.js';
import { conflictMessage, recordUpdate, serverSideApply } from './managed-fields.js';
import { NAMESPACE_FINALIZER, NamespaceLifecycle, namespaceFinalizers } from './namespace-strategy.js';
import { canonicalizeMeta, immutableMetaProblems, objectMetaCauses } from './meta-validation.js';
import { generateName } from './names.js';
import { clone, deepEqual, desiredPart, isObject, nowRfc3339, type JsonObject } from './objects.js';
import { jsonPatch, mergePatch, strategicMergePatch, type PatchType } from './patch.js';
import { ApiConflictRetry, finalizersPending, keyOf, MAX_WRITE_ATTEMPTS, MODIFIED } from './registry-common.js';
import { ApiError, errors, type StatusCause } from './status.js';
import { builtinStrategies } from './strategies.js';
import type { RestStrategy, StrategyRegistry, Subresource } from './strategy.js';

export type { DeleteOptions, DeleteResult, PropagationPolicy } from './deletion.js';
export { FOREGROUND_FINALIZER, ORPHAN_FINALIZER } from './deletion.js';
export { namespaceFinalizers } from './namespace-strategy.js';
export type { Subresource } from './strategy.js';

export interface WriteOptions {
  fieldManager: string;
  dryRun: boolean;
  fieldValidation: FieldValidation;
  force?: boolean;
  /** Who asks (for admission plugins); undefined for the server's own writes. */
  user?: UserInfo;
}

export interface WriteResult {
  object: ApiObject;
  warnings: string[];
  /** 201 for creates, 200 otherwise. */
  code: number;
}

function meta(obj: JsonObject): JsonObject {
  if (!isObject(obj.metadata)) obj.metadata = {};
  return obj.metadata as JsonObject;
}

/** Compare for no-op detection: the times in managedFields don't count as a change. */
function withoutVolatile(obj: ApiObject): JsonObject {
  const m: JsonObject = { ...obj.metadata };
  delete m.resourceVersion;
  if (Array.isArray(m.managedFields)) m.managedFields = m.managedFields.map((e: JsonObject) => ({ ...e, time: undefined }));
  return { ...obj, metadata: m };
}

export class Resources {
  private readonly deletions: Deletions;
  private readonly lifecycle: NamespaceLifecycle;
  private readonly plugins: AdmissionPlugin[] = [];

  constructor(
    private readonly store: Store,
    kinds: KindInfo[],
    /** What is particular to each kind; by default Berth's own (strategies.ts). */
    readonly strategies: StrategyRegistry = builtinStrategies(kinds),
  ) {
    this.deletions = new Deletions(store, strategies);
    this.lifecycle = new NamespaceLifecycle(store, kinds);
  }

  /** Adds an admission plugin, run on every create and update after validation. */
  use(plugin: AdmissionPlugin): void {
    this.plugins.push(plugin);
  }

  private async admission(r: AdmissionRequest): Promise<void> {
    for (const p of this.plugins) await p(r);
  }

  key(kind: KindInfo, namespace: string, name: string): ObjectKey {
    return keyOf(kind, namespace, name);
  }

  async get(kind: KindInfo, namespace: string, name: string): Promise<ApiObject> {
    const obj = await this.store.get(this.key(kind, namespace, name));
    if (!obj) throw errors.notFound(kind, name);
    return obj;
  }

  async list(kind: KindInfo, namespace: string, opts: Omit<ListOptions, 'namespace'>): Promise<ListResult> {
    return this.store.list(keyOf(kind, namespace, '').resource, { ...opts, namespace: kind.namespaced ? namespace : '' });
  }

  // ---- create -------------------------------------------------------------------------------

  async create(kind: KindInfo, namespace: string, body: unknown, opts: WriteOptions): Promise<WriteResult> {
    const obj = this.checkBody(kind, namespace, body, undefined);
    const m = meta(obj);
    if (!m.name && typeof m.generateName === 'string' && m.generateName) m.name = generateName(m.generateName);
    this.checkName(kind, obj);
    if (m.resourceVersion) throw errors.badRequest('resourceVersion should not be set on objects to be created');
    for (const f of ['uid', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields']) delete m[f];
    return this.insert(kind, obj as ApiObject, opts, undefined);
  }

  /** PrepareForCreate, schema and defaults, Validate, Canonicalize, bookkeeping, then the write. */
  private async insert(kind: KindInfo, candidate: ApiObject, opts: WriteOptions, managed: ApiObject['metadata']['managedFields']): Promise<WriteResult> {
    const strategy = this.strategies.for(kind);
    if (kind.namespaced) await this.lifecycle.checkWritable(candidate.metadata.namespace ?? '');
    strategy.prepareForCreate(candidate);
    const { object, warnings } = admit(kind, candidate, opts.fieldValidation);
    this.check(kind, object, [...objectMetaCauses(object), ...strategy.validate(object)]);
    canonicalizeMeta(object);
    strategy.canonicalize(object);
    await this.admission({ kind, operation: 'CREATE', object, sub: undefined, ...(opts.user ? { user: opts.user } : {}) });
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
    const strategy = this.served(kind, sub);
    const next = this.checkBody(kind, namespace, body, name) as ApiObject;
    const rv = next.metadata.resourceVersion;
    if (!rv) {
      throw errors.invalid(kind, name, [{ reason: 'FieldValueInvalid', field: 'metadata.resourceVersion', message: 'must be specified for an update' }]);
    }
    const old = await this.get(kind, namespace, name);
    if (old.metadata.resourceVersion !== rv) throw errors.conflict(kind, name, MODIFIED);
    try {
      this.checkImmutable(kind, next, old);
      return await this.commit(kind, old, strategy.prepareForUpdate(next, old, sub), opts, sub);
    } catch (err) {
      if (err instanceof ApiConflictRetry) throw errors.conflict(kind, name, MODIFIED);
      throw err;
    }
  }

  async patch(kind: KindInfo, namespace: string, name: string, type: PatchType, patch: unknown, opts: WriteOptions, sub: Subresource): Promise<WriteResult> {
    const strategy = this.served(kind, sub);
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
      if (asked !== undefined && asked !== old.metadata.resourceVersion) throw errors.conflict(kind, name, MODIFIED);
      const candidate = this.checkBody(kind, namespace, next, name) as ApiObject;
      this.checkImmutable(kind, candidate, old);
      try {
        return await this.commit(kind, old, strategy.prepareForUpdate(candidate, old, sub), opts, sub);
      } catch (err) {
        if (err instanceof ApiConflictRetry && attempt < MAX_WRITE_ATTEMPTS) continue;
        if (err instanceof ApiConflictRetry) throw errors.conflict(kind, name, MODIFIED);
        throw err;
      }
    }
  }

  private async apply(kind: KindInfo, namespace: string, name: string, body: unknown, opts: WriteOptions, sub: Subresource): Promise<WriteResult> {
    if (!opts.fieldManager) throw errors.badRequest('PATCH, fieldManager: Required value: is required for apply patch');
    const strategy = this.strategies.for(kind);
    const applied = this.checkBody(kind, namespace, body, name);
    const av = apiVersionOf(kind);
    for (let attempt = 1; ; attempt++) {
      const old = await this.store.get(this.key(kind, namespace, name));
      if (!old) {
        if (sub) throw errors.notFound(kind, name);
        const res = serverSideApply(undefined, applied, { manager: opts.fieldManager }, true, kind.listMapKeys, av);
        const candidate = res.object as ApiObject;
        this.checkName(kind, candidate);
        const managed = candidate.metadata.managedFields;
        for (const f of ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds']) delete (candidate.metadata as JsonObject)[f];
        try {
          return await this.insert(kind, candidate, opts, managed);
        } catch (err) {
          if (err instanceof ApiError && err.code === 409 && attempt < MAX_WRITE_ATTEMPTS) continue;
          throw err;
        }
      }
      const appliedRv = isObject(applied.metadata) ? applied.metadata.resourceVersion : undefined;
      if (appliedRv !== undefined && appliedRv !== old.metadata.resourceVersion) throw errors.conflict(kind, name, MODIFIED);
      const res = serverSideApply(old as JsonObject, applied, { manager: opts.fieldManager, ...(sub ? { subresource: sub } : {}) }, opts.force ?? false, kind.listMapKeys, av);
      if (res.conflicts.length > 0 && !opts.force) {
        throw errors.applyConflict(
          kind,
          name,
          conflictMessage(res.conflicts, av),
          res.conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with "${c.manager}" using ${av}`, field: c.path })),
        );
      }
      this.checkImmutable(kind, res.object as ApiObject, old);
      const candidate = strategy.prepareForUpdate(res.object as ApiObject, old, sub);
      candidate.metadata.managedFields = (res.object as ApiObject).metadata.managedFields;
      try {
        return await this.commit(kind, old, candidate, opts, sub, true);
      } catch (err) {
        if (err instanceof ApiConflictRetry && attempt < MAX_WRITE_ATTEMPTS) continue;
        if (err instanceof ApiConflictRetry) throw errors.conflict(kind, name, MODIFIED);
        throw err;
      }
    }
  }

  /**
   * Validate, bookkeep and write `next` (already through PrepareForUpdate) over `old` with the store's
   * compare-and-swap; deletes when the last finalizer of a deleted object goes.
   */
  private async commit(kind: KindInfo, old: ApiObject, next: ApiObject, opts: WriteOptions, sub: Subresource, managedDone = false): Promise<WriteResult> {
    const strategy = this.strategies.for(kind);
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
    const { object, warnings } = admit(kind, next, opts.fieldValidation);
    this.check(kind, object, [...objectMetaCauses(object), ...strategy.validateUpdate(object, old, sub)]);
    canonicalizeMeta(object);
    strategy.canonicalize(object);
    await this.admission({ kind, operation: 'UPDATE', object, old, sub, ...(opts.user ? { user: opts.user } : {}) });
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
    const finished = object.metadata.deletionTimestamp !== undefined && !finalizersPending(object, strategy);
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

  delete(kind: KindInfo, namespace: string, name: string, opts: DeleteOptions): Promise<DeleteResult> {
    return this.deletions.delete(kind, namespace, name, opts);
  }

  /**
   * The namespace controller's call while it runs in-process: what its PUT of /finalize without the
   * 'kubernetes' finalizer does over HTTP. A namespace changed meanwhile is left for its next pass.
   */
  async finalizeNamespace(name: string, fieldManager: string): Promise<void> {
    const kind = this.lifecycle.kind;
    if (!kind) return;
    const ns = await this.get(kind, '', name);
    const body = { ...ns, spec: { ...(isObject(ns.spec) ? ns.spec : {}), finalizers: namespaceFinalizers(ns).filter((f) => f !== NAMESPACE_FINALIZER) } };
    try {
      await this.replace(kind, '', name, body, { fieldManager, dryRun: false, fieldValidation: 'Strict' }, 'finalize');
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 409)) throw err;
    }
  }

  // ---- checks -------------------------------------------------------------------------------

  /** The kind's strategy, when the kind serves `sub` (the main resource always). */
  private served(kind: KindInfo, sub: Subresource): RestStrategy {
    const strategy = this.strategies.for(kind);
    if (sub !== undefined && !Object.hasOwn(strategy.subresources, sub)) throw errors.pathNotFound(`${kind.plural}/${sub}`);
    return strategy;
  }

  /** 422 Invalid naming each field the strategy found wrong. */
  private check(kind: KindInfo, obj: ApiObject, causes: StatusCause[]): void {
    if (causes.length > 0) throw errors.invalid(kind, obj.metadata.name, causes);
  }

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
      if (m.name !== undefined && m.name !== name) {
        throw errors.invalid(kind, name, [{ reason: 'FieldValueInvalid', field: 'metadata.name', message: `Invalid value: ${JSON.stringify(String(m.name))}: field is immutable (the name on the URL is "${name}")` }]);
      }
      m.name = name;
    }
    return obj;
  }

  /** uid (409, a failed precondition), name and creationTimestamp (422) may not change. */
  private checkImmutable(kind: KindInfo, next: ApiObject, old: ApiObject): void {
    const immutable = immutableMetaProblems(next as JsonObject, old);
    if (immutable.uidConflict) throw errors.conflict(kind, old.metadata.name, immutable.uidConflict);
    this.check(kind, old, immutable.causes);
  }

  private checkName(kind: KindInfo, obj: JsonObject): void {
    const m = meta(obj);
    if (typeof m.name !== 'string' || m.name === '') {
      throw errors.invalid(kind, '', [{ reason: 'FieldValueRequired', field: 'metadata.name', message: 'Required value: name or generateName is required' }]);
    }
    const problem = this.strategies.for(kind).nameProblem(m.name);
    if (problem) throw errors.invalid(kind, m.name, [{ reason: 'FieldValueInvalid', field: 'metadata.name', message: `Invalid value: "${m.name}": ${problem}` }]);
  }
}
