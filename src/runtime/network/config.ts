/**
 * A network as the node's runtime knows it (a bridge, its subnet, its options) and the CNI
 * configuration lists made from it: bridge with host-local IPAM, then portmap when the container
 * publishes ports, and loopback on its own list, as containerd and CRI-O run it.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { invalid } from '../util/errors.js';
import { CNI_VERSION, type NetworkConfigList } from './cni.js';
import { contains, formatIPv4, isHostAddress, lastAddress, parseCidr, parseIPv4, within } from '../../util/ipv4.js';

export const NETWORK_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
export const BRIDGE_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/;

export const NetworkDefinitionSchema = z.object({
  /** The runtime's name of the network (also the CNI network name). */
  name: z.string().regex(NETWORK_NAME_RE, 'name must match [a-zA-Z0-9][a-zA-Z0-9_.-]* (at most 128 characters)'),
  /** Linux bridge device. */
  bridge: z.string().regex(BRIDGE_NAME_RE, 'bridge must be an interface name of at most 15 characters [a-zA-Z0-9_.-]'),
  subnet: z.string(),
  /** The bridge's address and the containers' gateway; the subnet's first address when omitted. */
  gateway: z.string().optional(),
  /** Containers get addresses from this block of the subnet only. */
  ipRange: z.string().optional(),
  /** No route out of the node: no default route in the containers, no masquerade, nothing forwarded in or out. */
  internal: z.boolean().default(false),
  /** Traffic to and from the node's other Berth networks is dropped (Docker's network isolation). */
  isolated: z.boolean().default(true),
  /** The embedded DNS answers the names of the containers on this network (Docker's user networks; not its default bridge). */
  dnsNames: z.boolean().default(true),
  /** Whatever the owner wants to find again (the agent: the object's namespace, name and uid). */
  labels: z.record(z.string(), z.string()).default({}),
});
export type NetworkDefinitionInput = z.input<typeof NetworkDefinitionSchema>;
export type NetworkDefinition = z.infer<typeof NetworkDefinitionSchema>;

/** A definition with its addresses checked and derived: the gateway, the range containers get addresses from. */
export interface ResolvedNetwork extends NetworkDefinition {
  gateway: string;
  prefix: number;
  rangeStart: number;
  rangeEnd: number;
}

/** Checks a definition on its own (the overlaps with others are the service's); errors name the field. */
export function resolveNetwork(input: NetworkDefinitionInput): ResolvedNetwork {
  const parsed = NetworkDefinitionSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw invalid(`${issue.path.join('.') || 'network'}: ${issue.message}`);
  }
  const def = parsed.data;
  const subnet = parseCidr(def.subnet);
  if (!subnet) throw invalid(`subnet: ${JSON.stringify(def.subnet)} is not an IPv4 CIDR block such as 10.89.0.0/24 (host bits must be zero)`);
  if (subnet.prefix > 29 || subnet.prefix < 8) throw invalid(`subnet: ${def.subnet} must have a prefix length between /8 and /29`);
  let gateway = subnet.network + 1;
  if (def.gateway !== undefined) {
    const gw = parseIPv4(def.gateway);
    if (gw === undefined) throw invalid(`gateway: ${JSON.stringify(def.gateway)} is not an IPv4 address`);
    if (!isHostAddress(subnet, gw)) throw invalid(`gateway: ${def.gateway} is not a host address of the subnet ${def.subnet}`);
    gateway = gw;
  }
  let rangeStart = subnet.network + 1;
  let rangeEnd = lastAddress(subnet) - 1;
  if (def.ipRange !== undefined) {
    const range = parseCidr(def.ipRange);
    if (!range) throw invalid(`ipRange: ${JSON.stringify(def.ipRange)} is not an IPv4 CIDR block (host bits must be zero)`);
    if (!within(range, subnet)) throw invalid(`ipRange: ${def.ipRange} is not inside the subnet ${def.subnet}`);
    rangeStart = Math.max(range.network, subnet.network + 1);
    rangeEnd = Math.min(lastAddress(range), lastAddress(subnet) - 1);
    const free = rangeEnd - rangeStart + 1 - (gateway >= rangeStart && gateway <= rangeEnd ? 1 : 0);
    if (free < 1) throw invalid(`ipRange: ${def.ipRange} leaves no address for containers`);
  }
  return { ...def, gateway: formatIPv4(gateway), prefix: subnet.prefix, rangeStart, rangeEnd };
}

/** Why `ip` cannot be a container's fixed address on `net`, or undefined. */
export function fixedAddressProblem(net: ResolvedNetwork, ip: string): string | undefined {
  const n = parseIPv4(ip);
  if (n === undefined) return `${JSON.stringify(ip)} is not an IPv4 address`;
  const subnet = parseCidr(net.subnet)!;
  if (!contains(subnet, n) || !isHostAddress(subnet, n)) return `${ip} is not a host address of the subnet ${net.subnet} of network ${net.name}`;
  if (ip === net.gateway) return `${ip} is the gateway of network ${net.name}`;
  if (n < net.rangeStart || n > net.rangeEnd) return `${ip} is outside the ipRange ${net.ipRange ?? net.subnet} of network ${net.name}`;
  return undefined;
}

/** The bridge + host-local list of a network, with portmap chained when the container publishes ports. */
export function bridgeConfList(net: ResolvedNetwork, o: { ipamDir: string; portmap: boolean }): NetworkConfigList {
  const range: Record<string, string> = { subnet: net.subnet, gateway: net.gateway };
  if (net.ipRange !== undefined) {
    range.rangeStart = formatIPv4(net.rangeStart);
    range.rangeEnd = formatIPv4(net.rangeEnd);
  }
  return {
    cniVersion: CNI_VERSION,
    name: net.name,
    plugins: [
      {
        type: 'bridge',
        bridge: net.bridge,
        isGateway: true,
        // one masquerade rule per network (the network service's nft table), not a chain per container
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[range]],
          routes: net.internal ? [] : [{ dst: '0.0.0.0/0' }],
          dataDir: o.ipamDir,
        },
      },
      ...(o.portmap ? [{ type: 'portmap', capabilities: { portMappings: true }, snat: true }] : []),
    ],
  };
}

export function loopbackConfList(): NetworkConfigList {
  return { cniVersion: CNI_VERSION, name: 'berth-loopback', plugins: [{ type: 'loopback' }] };
}

export function ipamDirOf(networkDir: string): string {
  return join(networkDir, 'ipam');
}
