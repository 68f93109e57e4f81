/**
 * REST strategies: what is particular to one kind when it is created, updated or deleted, as the
 * Kubernetes API server's registry/rest strategies do it. The registry (resources.ts, deletion.ts)
 * does the common part for every kind and asks the kind's strategy for the rest; the handlers ask it
 * which subresources exist. Strategies are looked up by kind in a StrategyRegistry, never switched on.
 */
import { resourceOf, type KindInfo } from '../api/kind.js';
import type { ApiObject } from '../api/meta.js';
import { nameProblem } from './names.js';
import { clone } from './objects.js';
import type { StatusCause } from './status.js';

/** A subresource of a kind. '' never: the main resource is `undefined`. */
export type Subresource = 'status' | 'finalize' | undefined;

/** Kubernetes verbs of a subresource, as discovery lists them: GET is get, PUT update, PATCH patch. */
export type SubresourceVerb = 'get' | 'patch' | 'update';

export interface RestStrategy {
  /** The subresources this kind serves besides the main resource, with their verbs. */
  readonly subresources: Readonly<Partial<Record<Exclude<Subresource, undefined>, readonly SubresourceVerb[]>>>;
  /** Finalizers the server puts on every new object (the cleanup the node agent owes on deletion). */
  readonly finalizersOnCreate: readonly string[];
  /** Why `name` is not a valid metadata.name for this kind, or undefined. */
  nameProblem(name: string): string | undefined;
  /**
   * A new object, before validation: reset status (clients do not write it on create), add the
   * finalizers, set what the server owns. Mutates `obj`.
   */
  prepareForCreate(obj: ApiObject): void;
  /**
   * A write of `next` over `old` through `sub` (undefined: the main resource), before validation:
   * returns what may be written, keeping from `old` what this endpoint may not change (status on the
   * main resource, everything but status on /status...). Does not mutate its arguments.
   */
  prepareForUpdate(next: ApiObject, old: ApiObject, sub: Subresource): ApiObject;
  /** Rules of the kind beyond its schema for a new object (after defaults); [] when it is fine. */
  validate(obj: ApiObject): StatusCause[];
  /** Rules of the kind beyond its schema for a change through `sub` (after defaults); [] when fine. */
  validateUpdate(next: ApiObject, old: ApiObject, sub: Subresource): StatusCause[];
  /** After validation, before the write: the canonical form of the object. Mutates `obj`. */
  canonicalize(obj: ApiObject): void;
  /**
   * A delete request for `obj` (a copy with the garbage collector's finalizers already set): drops the
   * finalizers nobody will remove and marks it terminating where the kind shows that. Mutates `obj`.
   */
  prepareForDelete(obj: ApiObject): void;
  /** Finalizers that hold a deleted object besides metadata.finalizers (Namespace: spec.finalizers). */
  extraFinalizers(obj: ApiObject): string[];
}

export const STATUS_VERBS: readonly SubresourceVerb[] = ['get', 'patch', 'update'];

/** The verbs of `sub` on a kind with this strategy, or undefined when the kind does not serve it. */
export function subresourceVerbs(strategy: RestStrategy, sub: string): readonly SubresourceVerb[] | undefined {
  return Object.hasOwn(strategy.subresources, sub) ? strategy.subresources[sub as Exclude<Subresource, undefined>] : undefined;
}

/**
 * The strategy of kinds with nothing particular: status (when the kind has one) is the /status
 * subresource's alone, reset on create and kept on main-resource writes; names are DNS subdomains.
 */
export class DefaultStrategy implements RestStrategy {
  readonly subresources: RestStrategy['subresources'];
  readonly finalizersOnCreate: readonly string[] = [];

  constructor(protected readonly kind: KindInfo) {
    this.subresources = kind.hasStatus ? { status: STATUS_VERBS } : {};
  }

  nameProblem(name: string): string | undefined {
    return nameProblem(name, false);
  }

  prepareForCreate(obj: ApiObject): void {
    if (this.kind.hasStatus) delete obj.status;
    const finalizers = obj.metadata.finalizers ?? [];
    const missing = this.finalizersOnCreate.filter((f) => !finalizers.includes(f));
    if (missing.length > 0) obj.metadata.finalizers = [...finalizers, ...missing];
  }

  prepareForUpdate(next: ApiObject, old: ApiObject, sub: Subresource): ApiObject {
    if (sub === 'status') {
      const out = clone(old);
      if (next.status === undefined) delete out.status;
      else out.status = clone(next.status);
      return out;
    }
    const out = clone(next);
    if (this.kind.hasStatus) {
      if (old.status === undefined) delete out.status;
      else out.status = clone(old.status);
    }
    return out;
  }

  validate(_obj: ApiObject): StatusCause[] {
    return [];
  }

  validateUpdate(_next: ApiObject, _old: ApiObject, _sub: Subresource): StatusCause[] {
    return [];
  }

  canonicalize(_obj: ApiObject): void {}

  prepareForDelete(_obj: ApiObject): void {}

  extraFinalizers(_obj: ApiObject): string[] {
    return [];
  }
}

/** Strategies by kind; kinds without one of their own get the DefaultStrategy. */
export class StrategyRegistry {
  private readonly byResource = new Map<string, RestStrategy>();

  /** `make` builds the strategy of a kind, or undefined for the default. */
  constructor(kinds: KindInfo[], make: (kind: KindInfo) => RestStrategy | undefined = () => undefined) {
    for (const kind of kinds) this.byResource.set(resourceOf(kind), make(kind) ?? new DefaultStrategy(kind));
  }

  for(kind: KindInfo): RestStrategy {
    const s = this.byResource.get(resourceOf(kind));
    if (!s) throw new Error(`no strategy for ${resourceOf(kind)}: the kind is not registered`);
    return s;
  }
}
