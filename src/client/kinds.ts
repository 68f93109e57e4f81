/**
 * The kinds Berth serves, as the client room offers them to the agent, the controllers and the CLI
 * (which see src/api only through here and through type imports): resource types for the API
 * client, and typed resource clients for the berth.dev kinds.
 */
import { kinds } from '../api/registry.js';
import type { ContainerSpec, ContainerStatus } from '../api/container.js';
import type { ImageSpec, ImageStatus } from '../api/image.js';
import type { NetworkSpec, NetworkStatus } from '../api/network.js';
import type { NodeSpec, NodeStatus } from '../api/node.js';
import type { VolumeSpec, VolumeStatus } from '../api/volume.js';
import { apiVersionOf, type ApiClient, type KObject, type ResourceClient, type ResourceType } from './api-client.js';

export { parseQuantity } from '../api/quantity.js';

function typeOf(group: string, kind: string): ResourceType {
  const k = kinds.find((x) => x.group === group && x.kind === kind);
  if (!k) throw new Error(`kind ${kind} of group "${group}" is not registered`);
  return { group: k.group, version: k.version, kind: k.kind, plural: k.plural, namespaced: k.namespaced };
}

export const ContainerType = typeOf('berth.dev', 'Container');
export const VolumeType = typeOf('berth.dev', 'Volume');
export const ImageType = typeOf('berth.dev', 'Image');
export const NodeType = typeOf('berth.dev', 'Node');
export const NetworkType = typeOf('berth.dev', 'Network');
export const GitSyncType = typeOf('berth.dev', 'GitSync');
export const NamespaceType = typeOf('', 'Namespace');
export const EventType = typeOf('', 'Event');
export const SecretType = typeOf('', 'Secret');

/** Every kind the server serves, as resource types (what the garbage and namespace controllers walk). */
export const allResourceTypes: readonly ResourceType[] = kinds.map((k) => ({ group: k.group, version: k.version, kind: k.kind, plural: k.plural, namespaced: k.namespaced }));

/** The resource type for an ownerReference's apiVersion and kind. */
export function resourceTypeFor(apiVersion: string, kind: string): ResourceType | undefined {
  return allResourceTypes.find((t) => apiVersionOf(t) === apiVersion && t.kind === kind);
}

type Typed<S, St> = KObject & { spec?: S & Record<string, unknown>; status?: St & Record<string, unknown> };
export type ContainerObject = Typed<ContainerSpec, ContainerStatus>;
export type VolumeObject = Typed<VolumeSpec, VolumeStatus>;
export type ImageObject = Typed<ImageSpec, ImageStatus>;
export type NodeObject = Typed<NodeSpec, NodeStatus>;
export type NetworkObject = Typed<NetworkSpec, NetworkStatus>;

export interface BerthResources {
  containers: ResourceClient<ContainerObject>;
  volumes: ResourceClient<VolumeObject>;
  images: ResourceClient<ImageObject>;
  nodes: ResourceClient<NodeObject>;
  networks: ResourceClient<NetworkObject>;
  namespaces: ResourceClient;
  events: ResourceClient;
  secrets: ResourceClient;
}

export function berthResources(client: ApiClient): BerthResources {
  return {
    containers: client.resource<ContainerObject>(ContainerType),
    volumes: client.resource<VolumeObject>(VolumeType),
    images: client.resource<ImageObject>(ImageType),
    nodes: client.resource<NodeObject>(NodeType),
    networks: client.resource<NetworkObject>(NetworkType),
    namespaces: client.resource(NamespaceType),
    events: client.resource(EventType),
    secrets: client.resource(SecretType),
  };
}
