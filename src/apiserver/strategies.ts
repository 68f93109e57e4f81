/**
 * The strategies of the kinds Berth serves. Containers, Volumes and Images are bound to a node, whose
 * agent cleans up after them on deletion (stops and removes the container, deletes the volume's data,
 * removes the image) and then drops its finalizer: the server puts that finalizer on at creation, so
 * no object can go before its agent had its say, and the agent saves a write per object.
 */
import { resourceOf, type KindInfo } from '../api/kind.js';
import type { ApiObject } from '../api/meta.js';
import { NamespaceStrategy } from './namespace-strategy.js';
import { isObject } from './objects.js';
import { BindingStrategy, RoleStrategy } from './rbac-strategy.js';
import { DefaultStrategy, StrategyRegistry, type RestStrategy } from './strategy.js';

export const CONTAINER_FINALIZER = 'berth.dev/container';
export const VOLUME_FINALIZER = 'berth.dev/volume';
export const IMAGE_FINALIZER = 'berth.dev/image';

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
};

export function builtinStrategies(kinds: KindInfo[]): StrategyRegistry {
  return new StrategyRegistry(kinds, (kind) => (Object.hasOwn(MAKERS, resourceOf(kind)) ? MAKERS[resourceOf(kind)]!(kind) : new DefaultStrategy(kind)));
}
