/**
 * Namespaces, as Kubernetes has them: spec.finalizers holds a deleted namespace until the namespace
 * controller has emptied it and drops its 'kubernetes' finalizer through the /finalize subresource
 * (the only way to write spec); status.phase is Active, or Terminating once deletion was asked.
 * NamespaceLifecycle is the admission check of namespaced kinds: no new object in a namespace that
 * does not exist or is being terminated.
 */
import { resourceOf, type KindInfo } from '../api/kind.js';
import type { ApiObject } from '../api/meta.js';
import { namespaceKind as namespaceKindInfo } from '../api/namespace.js';
import type { Store } from '../store/types.js';
import { nameProblem } from './names.js';
import { clone, isObject, type JsonObject } from './objects.js';
import { errors, type StatusCause } from './status.js';
import { DefaultStrategy, STATUS_VERBS, type Subresource } from './strategy.js';

/** The namespace controller's finalizer in spec.finalizers. */
export const NAMESPACE_FINALIZER = 'kubernetes';

/** A finalizer name: a qualified name, prefixed by a DNS subdomain unless it is Kubernetes' own. */
const QUALIFIED = /^(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

export function namespaceFinalizers(ns: ApiObject): string[] {
  const spec = ns.spec;
  return isObject(spec) && Array.isArray(spec.finalizers) ? (spec.finalizers as string[]) : [];
}

function finalizerCauses(ns: ApiObject): StatusCause[] {
  const causes: StatusCause[] = [];
  namespaceFinalizers(ns).forEach((f, i) => {
    const field = `spec.finalizers[${i}]`;
    const name = f.split('/').pop() ?? '';
    if (!QUALIFIED.test(f) || name.length > 63) {
      causes.push({ reason: 'FieldValueInvalid', field, message: `Invalid value: "${f}": a finalizer must be a qualified name ([prefix/]name, name at most 63 characters)` });
    } else if (!f.includes('/') && f !== NAMESPACE_FINALIZER) {
      causes.push({ reason: 'FieldValueInvalid', field, message: `Invalid value: "${f}": name is neither a standard finalizer name nor is it fully qualified` });
    }
  });
  return causes;
}

function phaseOf(ns: ApiObject): unknown {
  return isObject(ns.status) ? ns.status.phase : undefined;
}

export class NamespaceStrategy extends DefaultStrategy {
  override readonly subresources = { status: STATUS_VERBS, finalize: ['update'] } as const;

  constructor(kind: KindInfo) {
    super(kind);
  }

  /** Namespace names are DNS labels: they become part of other names. */
  override nameProblem(name: string): string | undefined {
    return nameProblem(name, true);
  }

  override prepareForCreate(obj: ApiObject): void {
    super.prepareForCreate(obj);
    const finalizers = namespaceFinalizers(obj);
    const spec = isObject(obj.spec) ? obj.spec : {};
    obj.spec = { ...spec, finalizers: finalizers.includes(NAMESPACE_FINALIZER) ? [...finalizers] : [...finalizers, NAMESPACE_FINALIZER] };
    obj.status = { phase: 'Active' };
  }

  /** spec is written through /finalize alone, and there only spec.finalizers. */
  override prepareForUpdate(next: ApiObject, old: ApiObject, sub: Subresource): ApiObject {
    if (sub === 'finalize') {
      const out = clone(old);
      out.spec = { ...(isObject(old.spec) ? old.spec : {}), finalizers: [...namespaceFinalizers(next)] };
      return out;
    }
    const out = super.prepareForUpdate(next, old, sub);
    if (old.spec === undefined) delete out.spec;
    else out.spec = clone(old.spec);
    return out;
  }

  override validate(obj: ApiObject): StatusCause[] {
    return finalizerCauses(obj);
  }

  override validateUpdate(next: ApiObject, _old: ApiObject, sub: Subresource): StatusCause[] {
    if (sub === 'finalize') return finalizerCauses(next);
    if (sub !== 'status') return [];
    const want = next.metadata.deletionTimestamp ? 'Terminating' : 'Active';
    const phase = phaseOf(next);
    if (phase === want) return [];
    const why = want === 'Active' ? "may only be 'Active' while the namespace is not being deleted" : "may only be 'Terminating' while the namespace is being deleted";
    return [{ reason: 'FieldValueInvalid', field: 'status.phase', message: `Invalid value: "${String(phase)}": ${why}` }];
  }

  override prepareForDelete(obj: ApiObject): void {
    obj.status = { ...(isObject(obj.status) ? (obj.status as JsonObject) : {}), phase: 'Terminating' };
  }

  override extraFinalizers(obj: ApiObject): string[] {
    return namespaceFinalizers(obj);
  }
}

/** Admission of namespaced objects: their namespace exists and is not being terminated. */
export class NamespaceLifecycle {
  /** The Namespace kind, when it is served. */
  readonly kind: KindInfo | undefined;

  constructor(
    private readonly store: Store,
    kinds: KindInfo[],
  ) {
    this.kind = kinds.find((k) => resourceOf(k) === resourceOf(namespaceKindInfo));
  }

  async checkWritable(namespace: string): Promise<void> {
    if (!this.kind) return;
    const ns = await this.store.get({ resource: resourceOf(this.kind), namespace: '', name: namespace });
    if (!ns) throw errors.notFound(this.kind, namespace);
    if (ns.metadata.deletionTimestamp) {
      throw errors.forbidden(this.kind, namespace, `unable to create new content in namespace ${namespace} because it is being terminated`);
    }
  }
}
