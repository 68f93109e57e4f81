import { z } from 'zod';
import { contains, isHostAddress, parseCidr, parseIPv4, within } from '../util/ipv4.js';
import type { KindInfo } from './kind.js';
import { objectMeta } from './meta.js';
import { conditions, observedGeneration } from './fields.js';
import { ageColumn, defaulterFor, listMapKeysFor } from './kindparts.js';

const cidr = z.string().refine((s) => parseCidr(s) !== undefined, { message: 'must be an IPv4 CIDR block such as 10.89.0.0/24, with the host bits zero' });
const ipv4 = z.string().refine((s) => parseIPv4(s) !== undefined, { message: 'must be an IPv4 address' });

export const networkSpec = z
  .strictObject({
    subnet: cidr
      .refine((s) => {
        const c = parseCidr(s);
        return c === undefined || (c.prefix >= 8 && c.prefix <= 29);
      }, { message: 'must have a prefix length between /8 and /29' })
      .optional()
      .describe('IPv4 subnet of the network (docker network create --subnet). When omitted the agent picks a free /24 from its pool and reports it in status.subnet. It may not overlap another Network or a route of the node.'),
    gateway: ipv4.optional().describe("The bridge's address, which the containers use as gateway and DNS server (--gateway). The subnet's first address when omitted."),
    ipRange: cidr.optional().describe('Containers get addresses from this block of the subnet only (--ip-range).'),
    bridgeName: z
      .string()
      .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/, { message: 'must be an interface name of at most 15 characters [a-zA-Z0-9_.-]' })
      .optional()
      .describe('Name of the Linux bridge on each node (-o com.docker.network.bridge.name). br- and the first 12 hex digits of the uid when omitted.'),
    internal: z.boolean().default(false).describe('No way out of the node: no default route, no masquerade, nothing forwarded in or out (--internal). Defaults to false.'),
    isolated: z
      .boolean()
      .default(true)
      .describe("Drop traffic between this network and the node's other networks, as Docker isolates its networks from each other. Defaults to true."),
  })
  .superRefine((spec, ctx) => {
    const subnet = spec.subnet === undefined ? undefined : parseCidr(spec.subnet);
    const gw = spec.gateway === undefined ? undefined : parseIPv4(spec.gateway);
    const range = spec.ipRange === undefined ? undefined : parseCidr(spec.ipRange);
    if ((spec.gateway !== undefined || spec.ipRange !== undefined) && spec.subnet === undefined) {
      ctx.addIssue({ code: 'custom', path: [spec.gateway !== undefined ? 'gateway' : 'ipRange'], message: 'needs spec.subnet' });
    }
    if (subnet && gw !== undefined && !isHostAddress(subnet, gw)) ctx.addIssue({ code: 'custom', path: ['gateway'], message: `must be a host address of the subnet ${spec.subnet}` });
    if (subnet && range && !within(range, subnet)) ctx.addIssue({ code: 'custom', path: ['ipRange'], message: `must lie inside the subnet ${spec.subnet}` });
    if (subnet && range && within(range, subnet) && range.prefix >= 31 && gw !== undefined && contains(range, gw)) {
      ctx.addIssue({ code: 'custom', path: ['ipRange'], message: 'leaves no address for containers' });
    }
  });
export type NetworkSpec = z.infer<typeof networkSpec>;

export const networkStatus = z.strictObject({
  subnet: z.string().optional().describe('The subnet in use (spec.subnet, or the one the agent picked).'),
  gateway: z.string().optional().describe('The gateway (and DNS server) of the containers.'),
  bridge: z.string().optional().describe('Name of the Linux bridge on the nodes.'),
  containers: z.number().int().min(0).optional().describe('Containers attached to the network on the node that reported last.'),
  conditions: conditions.optional(),
  observedGeneration: observedGeneration.optional(),
});
export type NetworkStatus = z.infer<typeof networkStatus>;

export const network = z.strictObject({
  apiVersion: z.literal('berth.dev/v1alpha1'),
  kind: z.literal('Network'),
  metadata: objectMeta,
  spec: networkSpec.prefault({}).describe('Desired network. May be omitted: every field has a default.'),
  status: networkStatus.optional().describe('Observed state of the network, written by the node agents.'),
});
export type Network = z.infer<typeof network>;
export type NetworkInput = z.input<typeof network>;

export const applyNetworkDefaults = defaulterFor(network);

export const networkKind: KindInfo = {
  group: 'berth.dev',
  version: 'v1alpha1',
  kind: 'Network',
  listKind: 'NetworkList',
  plural: 'networks',
  singular: 'network',
  shortNames: ['net'],
  categories: ['berth'],
  namespaced: true,
  hasStatus: true,
  schema: network,
  specSchema: networkSpec,
  statusSchema: networkStatus,
  printerColumns: [
    { name: 'Subnet', type: 'string', jsonPath: '.status.subnet', description: 'Subnet in use.' },
    { name: 'Gateway', type: 'string', jsonPath: '.status.gateway', description: 'Gateway and DNS server of the containers.' },
    { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'Ready condition.' },
    ageColumn,
    { name: 'Bridge', type: 'string', jsonPath: '.status.bridge', description: 'Linux bridge.', priority: 1 },
    { name: 'Internal', type: 'boolean', jsonPath: '.spec.internal', description: 'No way out of the node.', priority: 1 },
  ],
  applyDefaults: applyNetworkDefaults,
  selectableFields: [],
  listMapKeys: listMapKeysFor(network),
  description:
    'A Network is a user-defined bridge network (docker network create): containers that name it in spec.networks get an address on it, reach each other and resolve each other by name and alias through the embedded DNS, and cannot reach containers on other networks.',
};
