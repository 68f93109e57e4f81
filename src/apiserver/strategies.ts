/**
 * The strategies of the kinds Berth serves. Containers, Volumes and Images are bound to a node, whose
 * agent cleans up after them on deletion (stops and removes the container, deletes the volume's data,
 * removes the image) and then drops its finalizer: the server puts that finalizer on at creation, so
 * no object can go before its agent had its say, and the agent saves a write per object.
 */
import { GITSYNC_FINALIZER, ORPHAN_ON_DELETE_ANNOTATION } from '../api/gitsync.js';
import { resourceOf, type KindInfo } from '../api/kind.js';
import type { ApiObject } from '../api/meta.js';
import { ORPHAN_FINALIZER } from './deletion.js';
import { NamespaceStrategy } from './namespace-strategy.js';
import { isObject } from './objects.js';
import { BindingStrategy, RoleStrategy } from './rbac-strategy.js';
import type { StatusCause } from './status.js';
import { DefaultStrategy, StrategyRegistry, type RestStrategy, type Subresource } from './strategy.js';

export const CONTAINER_FINALIZER = 'berth.dev/container';
export const VOLUME_FINALIZER = 'berth.dev/volume';
export const IMAGE_FINALIZER = 'berth.dev/image';
export const NETWORK_FINALIZER = 'berth.dev/network';

/** A kind whose objects a node agent realises (spec.nodeName) and cleans up after under `finalizer`. */
export class NodeBoundStrategy extends DefaultStrategy {
  override readonly finalizersOnCreate: readonly string[];

  constructor(
    kind: KindInfo,
    private readonly finalizer: string,
  ) {
    super(kind);
    this.finalizersOnCreate = [finalizer];
  }

  /** Never bound to a node, nothing of it is on any node: no agent will drop the finalizer, nor needs to. */
  override prepareForDelete(obj: ApiObject): void {
    const nodeName = isObject(obj.spec) ? obj.spec.nodeName : undefined;
    if (typeof nodeName === 'string' && nodeName !== '') return;
    const rest = (obj.metadata.finalizers ?? []).filter((f) => f !== this.finalizer);
    if (rest.length > 0) obj.metadata.finalizers = rest;
    else delete obj.metadata.finalizers;
  }
}

/**
 * Networks: the agents take their bridges down and drop the finalizer once no container uses them
 * (a Network in use stays Terminating, as Kubernetes protects a PVC in use). A network's spec cannot
 * change (Docker's networks neither): its subnet and bridge are in every attached container. Whether
 * a subnet overlaps another Network is not decided here but by the agents, which see every Network
 * and their node's routes, and report it in the Network's Ready condition: a check against the store
 * at admission would race with a concurrent create and could not see the nodes' routes.
 */
export class NetworkStrategy extends DefaultStrategy {
  override readonly finalizersOnCreate: readonly string[] = [NETWORK_FINALIZER];

  override validateUpdate(next: ApiObject, old: ApiObject, sub: Subresource): StatusCause[] {
    if (sub !== undefined || next.metadata.deletionTimestamp) return [];
    if (JSON.stringify(next.spec ?? {}) === JSON.stringify(old.spec ?? {})) return [];
    return [{ reason: 'FieldValueForbidden', field: 'spec', message: 'Forbidden: a Network\'s spec is immutable; delete the Network and create it again' }];
  }
}

/**
 * GitSyncs: their controller decides on deletion what happens to what they applied (spec.prune). A
 * delete with propagationPolicy Orphan is written down on the object, since the garbage collector
 * drops its `orphan` finalizer before the controller may have seen it.
 */
export class GitSyncStrategy extends DefaultStrategy {
  override readonly finalizersOnCreate: readonly string[] = [GITSYNC_FINALIZER];

  override prepareForDelete(obj: ApiObject): void {
    if (!obj.metadata.finalizers?.includes(ORPHAN_FINALIZER)) return;
    obj.metadata.annotations = { ...obj.metadata.annotations, [ORPHAN_ON_DELETE_ANNOTATION]: 'true' };
  }
}

/** Strategy makers by store resource ('core/namespaces'); the other kinds get the DefaultStrategy. */
const MAKERS: Record<string, (kind: KindInfo) => RestStrategy> = {
  'core/namespaces': (k) => new NamespaceStrategy(k),
  'berth.dev/containers': (k) => new NodeBoundStrategy(k, CONTAINER_FINALIZER),
  'berth.dev/volumes': (k) => new NodeBoundStrategy(k, VOLUME_FINALIZER),
  'berth.dev/images': (k) => new NodeBoundStrategy(k, IMAGE_FINALIZER),
  'rbac.authorization.k8s.io/roles': (k) => new RoleStrategy(k),
  'rbac.authorization.k8s.io/clusterroles': (k) => new RoleStrategy(k),
  'rbac.authorization.k8s.io/rolebindings': (k) => new BindingStrategy(k),
  'rbac.authorization.k8s.io/clusterrolebindings': (k) => new BindingStrategy(k),
  'berth.dev/networks': (k) => new NetworkStrategy(k),
  'berth.dev/gitsyncs': (k) => new GitSyncStrategy(k),
};

export function builtinStrategies(kinds: KindInfo[]): StrategyRegistry {
  return new StrategyRegistry(kinds, (kind) => (Object.hasOwn(MAKERS, resourceOf(kind)) ? MAKERS[resourceOf(kind)]!(kind) : new DefaultStrategy(kind)));
}
