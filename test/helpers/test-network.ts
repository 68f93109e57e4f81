/**
 * Networking for test nodes: every test node gets a default network of its own that cannot reach
 * anything outside the machine (a /24 of 10.250.0.0/16 on its own bridge, internal: no default
 * route, no masquerade), user networks from 10.251.0.0/16, and an embedded DNS that forwards
 * nothing. And the checks that the host was left as it was found.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { NetworkOptions } from '../../src/agent/network-reconciler.js';

const randomBridge = (): string => `bt${Math.random().toString(16).slice(2, 8)}`;

export function testNetworkOptions(): NetworkOptions {
  return { defaultPool: '10.250.0.0/16', defaultPrefix: 24, defaultBridge: randomBridge(), defaultInternal: true, userPool: '10.251.0.0/16', dnsUpstreams: [] };
}

/** The same as `berth server` / `berth agent` flags. */
export function testNetworkFlags(): string[] {
  return ['--default-pool', '10.250.0.0/16', '--default-prefix', '24', '--default-bridge', randomBridge(), '--default-network-internal', '--network-pool', '10.251.0.0/16', '--dns-upstream', 'none'];
}

/** Removes every network of a runtime root no container uses any more (bridges, rules, claims; the host's state with the last). */
export async function pruneNetworks(root: string): Promise<void> {
  const { Runtime } = await import('../../src/runtime/index.js');
  const rt = new Runtime({ root });
  try {
    await rt.sweepNetworks();
    await rt.networks.prune();
  } finally {
    await rt.close();
  }
}

export interface HostNetState {
  ipForward: string;
  iptables: string;
  nft: string;
}

/** ip_forward, iptables-save (without its timestamps and counters) and the nftables ruleset. */
export function hostNetState(): HostNetState {
  const iptables = execFileSync('iptables-save').toString().split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]/, '')).join('\n');
  return { ipForward: readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), iptables, nft: execFileSync('nft', ['list', 'ruleset']).toString() };
}
