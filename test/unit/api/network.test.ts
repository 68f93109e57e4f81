import { describe, expect, it } from 'vitest';
import { container } from '../../../src/api/container.js';
import { applyNetworkDefaults, network } from '../../../src/api/network.js';
import type { ApiObject } from '../../../src/api/meta.js';
import { specField } from '../../../src/agent/container-reconciler.js';
import { formatPorts } from '../../../src/cli/commands/port.js';
import { blockOf, formatCidr, isHostAddress, overlaps, parseCidr, parseIPv4 } from '../../../src/util/ipv4.js';
import { badFields, causesOf, meta } from './helpers.js';

const net = (spec: Record<string, unknown> = {}) => ({ apiVersion: 'berth.dev/v1alpha1', kind: 'Network', metadata: meta('front'), spec });
const ctr = (spec: Record<string, unknown>) => ({ apiVersion: 'berth.dev/v1alpha1', kind: 'Container', metadata: meta('web'), spec: { image: 'busybox', ...spec } });

describe('Network schema', () => {
  it('accepts a docker network create style spec and defaults the rest', () => {
    expect(network.safeParse(net({ subnet: '10.89.3.0/24', gateway: '10.89.3.254', ipRange: '10.89.3.128/25', bridgeName: 'br-front', internal: true })).success).toBe(true);
    expect(applyNetworkDefaults(net() as ApiObject).spec).toEqual({ internal: false, isolated: true });
  });

  it('names the field of an invalid subnet, gateway, range or bridge name', () => {
    expect(badFields(network, net({ subnet: '10.89.3.1/24' }))).toEqual(['spec.subnet']);
    expect(badFields(network, net({ subnet: '10.89.3.0/30' }))).toEqual(['spec.subnet']);
    expect(badFields(network, net({ subnet: 'fd00::/64' }))).toEqual(['spec.subnet']);
    expect(badFields(network, net({ subnet: '10.89.3.0/24', gateway: '10.89.4.1' }))).toEqual(['spec.gateway']);
    expect(badFields(network, net({ subnet: '10.89.3.0/24', gateway: '10.89.3.0' }))).toEqual(['spec.gateway']);
    expect(badFields(network, net({ subnet: '10.89.3.0/24', ipRange: '10.89.0.0/16' }))).toEqual(['spec.ipRange']);
    expect(badFields(network, net({ gateway: '10.89.3.1' }))).toEqual(['spec.gateway']);
    expect(badFields(network, net({ bridgeName: 'a-very-long-bridge-name' }))).toEqual(['spec.bridgeName']);
    expect(causesOf(network, net({ subnet: '10.89.3.0/24', gateway: '10.89.4.1' }))[0]!.message).toContain('must be a host address of the subnet 10.89.3.0/24');
  });
});

describe('Container network fields', () => {
  it('takes bridge, none, host and container:NAME, networks with aliases and a fixed address, hostPort 0', () => {
    for (const mode of ['bridge', 'none', 'host', 'container:db']) expect(container.safeParse(ctr({ network: mode })).success).toBe(true);
    expect(container.safeParse(ctr({ networks: [{ name: 'front', aliases: ['api'], ipv4Address: '10.89.0.5' }], ports: [{ containerPort: 80, hostPort: 0 }] })).success).toBe(true);
  });

  it('names the field of a bad mode, of networks or published ports without bridge, of a duplicate network', () => {
    expect(badFields(container, ctr({ network: 'overlay' }))).toEqual(['spec.network']);
    expect(badFields(container, ctr({ network: 'container:' }))).toEqual(['spec.network']);
    expect(badFields(container, ctr({ network: 'host', networks: [{ name: 'front' }] }))).toEqual(['spec.networks']);
    expect(badFields(container, ctr({ network: 'none', ports: [{ containerPort: 80, hostPort: 8080 }] }))).toEqual(['spec.ports[0].hostPort']);
    expect(container.safeParse(ctr({ network: 'host', ports: [{ containerPort: 80 }] })).success).toBe(true);
    expect(badFields(container, ctr({ networks: [{ name: 'front' }, { name: 'front' }] }))).toEqual(['spec.networks[1].name']);
    expect(badFields(container, ctr({ networks: [{ name: 'front', aliases: ['Not_A_Label'] }] }))).toEqual(['spec.networks[0].aliases[0]']);
  });
});

describe('network helpers', () => {
  it('does IPv4 block arithmetic', () => {
    expect(parseIPv4('10.1.2.3')).toBe(167838211);
    expect(parseCidr('10.1.2.0/24')).toEqual({ network: 167838208, prefix: 24 });
    expect(parseCidr('10.1.2.3/24')).toBeUndefined();
    expect(formatCidr(blockOf('10.1.2.3/16')!)).toBe('10.1.0.0/16');
    expect(overlaps(parseCidr('10.1.0.0/16')!, parseCidr('10.1.200.0/24')!)).toBe(true);
    expect(overlaps(parseCidr('10.1.0.0/24')!, parseCidr('10.1.1.0/24')!)).toBe(false);
    expect(isHostAddress(parseCidr('10.1.0.0/24')!, parseIPv4('10.1.0.255')!)).toBe(false);
  });

  it('turns runtime messages into spec fields', () => {
    expect(specField({ networks: [{ name: 'a' }] } as never, 'networks[0].ipv4Address: taken')).toBe('spec.networks[0].ipv4Address: taken');
    expect(specField({} as never, 'networks[0].name: no free address left')).toBe('spec.network: no free address left');
    expect(specField({} as never, 'ports[1].hostPort: in use')).toBe('spec.ports[1].hostPort: in use');
    expect(specField({} as never, 'something else')).toBe('something else');
  });

  it('prints ports as docker port does', () => {
    const ports = [{ containerPort: 81, protocol: 'UDP' as const, hostIP: '0.0.0.0', hostPort: 9001 }, { containerPort: 80, protocol: 'TCP' as const, hostIP: '127.0.0.1', hostPort: 8080 }];
    expect(formatPorts(ports)).toEqual(['80/tcp -> 127.0.0.1:8080', '81/udp -> 0.0.0.0:9001']);
    expect(formatPorts(ports, '81/udp')).toEqual(['0.0.0.0:9001']);
    expect(() => formatPorts(ports, '81')).toThrow("no public port '81/tcp' published");
  });
});
