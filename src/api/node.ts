import { z } from 'zod';
import type { KindInfo } from './kind.js';
import { objectMeta } from './meta.js';
import { conditions, labelKey, listMap, observedGeneration, quantityField, timestamp } from './fields.js';
import { ageColumn, defaulterFor, listMapKeysFor } from './kindparts.js';

export const taint = z.strictObject({
  key: labelKey.describe('Taint key.'),
  value: z.string().max(63).optional().describe('Taint value.'),
  effect: z
    .enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute'])
    .describe('NoSchedule: no new containers; PreferNoSchedule: avoid when possible; NoExecute: also evict running ones.'),
  timeAdded: timestamp.optional().describe('When a NoExecute taint was added.'),
});
export type Taint = z.infer<typeof taint>;

export const nodeSpec = z.strictObject({
  unschedulable: z.boolean().optional().describe('Keep the scheduler from placing new objects on the node (cordon).'),
  taints: z.array(taint).optional().describe('Taints that repel containers.'),
});
export type NodeSpec = z.infer<typeof nodeSpec>;

export const nodeResources = z.strictObject({
  cpu: quantityField.optional().describe('CPU cores.'),
  memory: quantityField.optional().describe('Memory in bytes.'),
  pids: quantityField.optional().describe('Process IDs.'),
});
export type NodeResources = z.infer<typeof nodeResources>;

export const nodeInfo = z.strictObject({
  berthVersion: z.string().optional().describe('Version of the berth agent.'),
  runtimeVersion: z.string().optional().describe('Version of the runtime core.'),
  runcVersion: z.string().optional().describe('runc --version.'),
  conmonVersion: z.string().optional().describe('conmon --version.'),
  kernelVersion: z.string().optional().describe('uname -r.'),
  osImage: z.string().optional().describe('PRETTY_NAME from /etc/os-release.'),
  operatingSystem: z.string().optional().describe('GOOS-style operating system, e.g. linux.'),
  architecture: z.string().optional().describe('GOARCH-style architecture, e.g. amd64.'),
  cgroupVersion: z.enum(['v1', 'v2']).optional().describe('cgroup hierarchy in use: v1 (legacy or hybrid) or v2 (unified).'),
  machineID: z.string().optional().describe('/etc/machine-id.'),
  bootID: z.string().optional().describe('Changes on every reboot.'),
});
export type NodeInfo = z.infer<typeof nodeInfo>;

export const nodeAddress = z.strictObject({
  type: z.string().min(1).describe('InternalIP, ExternalIP, Hostname, InternalDNS or ExternalDNS.'),
  address: z.string().min(1).describe('The address.'),
});
export type NodeAddress = z.infer<typeof nodeAddress>;

export const nodeStatus = z.strictObject({
  capacity: nodeResources.optional().describe('Total resources of the node.'),
  allocatable: nodeResources.optional().describe('Resources available to containers (capacity minus what is reserved).'),
  nodeInfo: nodeInfo.optional().describe('Versions and platform of the node.'),
  addresses: listMap(nodeAddress, ['type']).optional().describe('Addresses of the node.'),
  agentEndpoint: z
    .strictObject({ url: z.url().describe('Base URL, e.g. https://10.0.0.5:10250.') })
    .optional()
    .describe("The agent's authenticated endpoint, to which the API server proxies log and exec requests."),
  networks: listMap(
    z.strictObject({
      name: z.string().min(1).describe('namespace/name of the Network, or "bridge" for the default network.'),
      bridge: z.string().optional().describe('Linux bridge.'),
      subnet: z.string().optional().describe('Subnet.'),
      gateway: z.string().optional().describe('Gateway and DNS server.'),
      containers: z.number().int().min(0).optional().describe('Containers attached on this node.'),
    }),
    ['name'],
  )
    .optional()
    .describe('Networks set up on this node (docker network ls), the default one first.'),
  lastHeartbeatTime: timestamp.optional().describe('When the agent last reported; a node silent for too long is marked NotReady.'),
  conditions: conditions.optional(),
  observedGeneration: observedGeneration.optional(),
});
export type NodeStatus = z.infer<typeof nodeStatus>;

export const node = z.strictObject({
  apiVersion: z.literal('berth.dev/v1alpha1'),
  kind: z.literal('Node'),
  metadata: objectMeta,
  spec: nodeSpec.prefault({}).describe('Scheduling settings for the node.'),
  status: nodeStatus.optional().describe('Observed state of the node, written by its agent.'),
});
export type Node = z.infer<typeof node>;
export type NodeInput = z.input<typeof node>;

export const applyNodeDefaults = defaulterFor(node);

export const nodeKind: KindInfo = {
  group: 'berth.dev',
  version: 'v1alpha1',
  kind: 'Node',
  listKind: 'NodeList',
  plural: 'nodes',
  singular: 'node',
  shortNames: [],
  categories: ['berth'],
  namespaced: false,
  hasStatus: true,
  schema: node,
  specSchema: nodeSpec,
  statusSchema: nodeStatus,
  printerColumns: [
    { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'Ready condition.' },
    { name: 'Unschedulable', type: 'boolean', jsonPath: '.spec.unschedulable', description: 'Cordoned.' },
    { name: 'Version', type: 'string', jsonPath: '.status.nodeInfo.berthVersion', description: 'Agent version.' },
    ageColumn,
    { name: 'Internal-IP', type: 'string', jsonPath: '.status.addresses[?(@.type=="InternalIP")].address', priority: 1 },
    { name: 'OS-Image', type: 'string', jsonPath: '.status.nodeInfo.osImage', priority: 1 },
    { name: 'Kernel-Version', type: 'string', jsonPath: '.status.nodeInfo.kernelVersion', priority: 1 },
    { name: 'Runtime', type: 'string', jsonPath: '.status.nodeInfo.runtimeVersion', priority: 1 },
    { name: 'Cgroup', type: 'string', jsonPath: '.status.nodeInfo.cgroupVersion', priority: 1 },
  ],
  applyDefaults: applyNodeDefaults,
  selectableFields: [],
  listMapKeys: listMapKeysFor(node),
  description:
    'A Node is a machine that runs a berth agent. The agent registers it, reports capacity, versions and addresses, and renews lastHeartbeatTime; the scheduler places Containers, Volumes and Images on Ready, schedulable nodes.',
};
