/**
 * Networking for test nodes: every test node gets a default network of its own that cannot reach
 * anything outside the machine (a /24 of 10.250.0.0/16 on its own bridge, internal: no default
 * route, no masquerade), user networks from 10.251.0.0/16, and an embedded DNS that forwards
 * nothing. And the checks that the host was left as it was found.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
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
  /** Berth runtimes (roots) holding networks on the host at that moment. */
  claims: string[];
}

const CLAIMS = '/run/berth/network/claims';

async function claimRoots(): Promise<string[]> {
  const out: string[] = [];
  for (const f of await readdir(CLAIMS).catch(() => [] as string[])) {
    const c = await readFile(join(CLAIMS, f), 'utf8').then((t) => JSON.parse(t) as { root: string }, () => undefined);
    if (c && (await readdir(c.root).then(() => true, () => false))) out.push(c.root);
  }
  return out;
}

/** ip_forward, iptables-save (without its timestamps and counters), the nftables ruleset, the live Berth claims. */
export function hostNetState(): HostNetState {
  const iptables = execFileSync('iptables-save').toString().split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]/, '')).join('\n');
  const claims: string[] = [];
  for (const f of (() => {
    try {
      return readdirSync(CLAIMS);
    } catch {
      return [];
    }
  })()) {
    try {
      const root = (JSON.parse(readFileSync(join(CLAIMS, f), 'utf8')) as { root: string }).root;
      if (existsSync(root)) claims.push(root);
    } catch {
      // a claim being written or removed
    }
  }
  return { ipForward: readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), iptables, nft: execFileSync('nft', ['list', 'ruleset']).toString(), claims };
}

/**
 * After a test: the host's ip_forward, iptables and nftables state as before it. When other Berth
 * runtimes (other test files on this host) held networks before or after, their state is theirs: then
 * only what this test's runtimes made is checked gone (no claim of theirs, no table of theirs).
 */
export async function expectHostRestored(before: HostNetState, ownRoots: string[] = []): Promise<void> {
  const others = async () => (await claimRoots()).filter((r) => !ownRoots.includes(r));
  if (before.claims.length === 0) {
    const same = (s: HostNetState) => JSON.stringify({ ...s, claims: [] }) === JSON.stringify({ ...before, claims: [] });
    let now = hostNetState();
    for (let i = 0; i < 120 && !same(now) && (await others()).length === 0; i++) {
      await new Promise((r) => setTimeout(r, 250));
      now = hostNetState();
    }
    if ((await others()).length === 0) expect({ ...now, claims: [] }).toEqual({ ...before, claims: [] });
  }
  for (const r of ownRoots) expect(await claimRoots()).not.toContain(r);
}

/** Polls `fn` until `ok` holds of its value (outside a test body, where expect.poll is not allowed). */
export async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: last ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * What a runtime root (and the containers whose IDs are given) left on the host: namespace files,
 * attachment records, cached CNI results, host-local leases, veths on its bridges, iptables rules
 * naming the containers, and the networks still defined.
 */
export async function networkLeftovers(root: string, containerIds: string[]): Promise<Record<string, string[]>> {
  const ls = (d: string) => readdir(d).catch(() => [] as string[]);
  const leases: string[] = [];
  for (const n of await ls(join(root, 'network', 'ipam'))) for (const f of await ls(join(root, 'network', 'ipam', n))) if (/^\d+\.\d+\.\d+\.\d+$/.test(f)) leases.push(`${n}/${f}`);
  const veths: string[] = [];
  for (const f of await ls(CLAIMS)) {
    const c = await readFile(join(CLAIMS, f), 'utf8').then((t) => JSON.parse(t) as { root: string; bridge: string }, () => undefined);
    if (c?.root === root) for (const v of await ls(`/sys/class/net/${c.bridge}/brif`)) veths.push(`${c.bridge}/${v}`);
  }
  const rules = execFileSync('iptables-save').toString().split('\n');
  const iptables = rules.filter((l) => containerIds.some((id) => l.includes(id)));
  // a portmap chain no rule jumps to any more is a leak too
  const chains = rules.filter((l) => /^:CNI-DN-/.test(l)).map((l) => l.slice(1).split(' ')[0]!);
  for (const c of chains) if (!rules.some((l) => l.includes(`-j ${c}`))) iptables.push(`orphan chain ${c}`);
  return {
    netns: await ls(join(root, 'netns')),
    attachments: await ls(join(root, 'network', 'attachments')),
    cachedResults: await ls(join(root, 'network', 'cni-cache', 'results')),
    leases,
    veths,
    iptables,
    networks: (await ls(join(root, 'network', 'networks'))).map((f) => f.replace(/\.json$/, '')),
  };
}
