/**
 * What Berth's networks change on the host beyond their own devices, and how it is undone:
 * - net.ipv4.ip_forward, which the bridge plugin turns on: its value before the first Berth network
 *   of this boot is kept in /run/berth/network and put back when the last Berth network goes;
 * - the nftables and iptables (iptables-nft) tables the plugins made: portmap's shared
 *   CNI-HOSTPORT-* chains are removed once empty, and tables that were not there before Berth and
 *   are left empty are deleted;
 * - Berth's own nftables table per runtime (masquerade per network, isolation between networks,
 *   internal networks), replaced atomically whenever the runtime's networks change.
 * The claims under /run are host-wide on purpose: several runtimes (test nodes) may share a host, and
 * none may take another's bridge or subnet; they are taken under a host-wide lock.
 */
import { constants } from 'node:fs';
import { mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { conflict, failed } from '../util/errors.js';
import { runCommand } from '../util/exec.js';
import { readDirOrEmpty } from '../util/fs.js';
import { FileLock } from '../util/file-lock.js';
import { blockOf, overlaps, type Cidr } from '../../util/ipv4.js';

const parseCidrLoose = blockOf;
import type { ResolvedNetwork } from './config.js';

const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';
/** Tables whose emptiness after Berth may mean Berth (through its plugins) made them. */
const WATCHED_TABLES = ['ip nat', 'ip6 nat', 'ip filter', 'ip6 filter', 'ip mangle', 'ip6 mangle'];
const HOSTPORT_CHAINS = ['CNI-HOSTPORT-DNAT', 'CNI-HOSTPORT-MASQ', 'CNI-HOSTPORT-SETMARK'];

async function ok(cmd: string, args: string[], input?: string): Promise<string> {
  const r = await runCommand(cmd, args, input === undefined ? {} : { input });
  if (r.code !== 0) throw failed(`${cmd} ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return r.stdout;
}

export async function linkExists(name: string): Promise<boolean> {
  try {
    await stat(join('/sys/class/net', name));
    return true;
  } catch {
    return false;
  }
}

/** Interfaces enslaved to a bridge (its veths). */
export async function bridgePorts(bridge: string): Promise<string[]> {
  return readDirOrEmpty(join('/sys/class/net', bridge, 'brif'));
}

/** IPv4 routes of the host's main table, but the default route and those of `exceptDev`. */
export async function hostRoutes(exceptDev?: string): Promise<Array<{ block: Cidr; dst: string; dev: string }>> {
  const out = await ok('ip', ['-j', '-4', 'route', 'show']);
  const routes = JSON.parse(out || '[]') as Array<{ dst: string; dev?: string }>;
  const res: Array<{ block: Cidr; dst: string; dev: string }> = [];
  for (const r of routes) {
    if (r.dst === 'default' || (exceptDev && r.dev === exceptDev)) continue;
    const block = blockOf(r.dst);
    if (block) res.push({ block, dst: r.dst, dev: r.dev ?? '?' });
  }
  return res;
}

export interface HostNetworkOptions {
  /** Host-wide state (default /run/berth/network). */
  stateDir?: string;
  /** This runtime's root: names its nftables table and owns its claims. */
  root: string;
}

/** A bridge and subnet a Berth runtime of this host holds. */
export interface Claim {
  bridge: string;
  subnet: string;
  root: string;
}

export class HostNetwork {
  readonly stateDir: string;
  /** Berth's own nftables table of this runtime (ip family). */
  readonly table: string;
  private readonly lock: FileLock;

  constructor(private readonly o: HostNetworkOptions) {
    this.stateDir = o.stateDir ?? '/run/berth/network';
    this.table = `berth_${createHash('sha256').update(o.root).digest('hex').slice(0, 10)}`;
    this.lock = new FileLock(join(this.stateDir, 'lock'), { parents: true });
  }

  private get claimsDir(): string {
    return join(this.stateDir, 'claims');
  }

  /** Claims of every Berth runtime of this host whose root still exists (a removed root's claims are stale). */
  async claims(): Promise<Claim[]> {
    const out: Claim[] = [];
    for (const f of await readDirOrEmpty(this.claimsDir)) {
      const c = await readFile(join(this.claimsDir, f), 'utf8').then((t) => JSON.parse(t) as Claim, () => undefined);
      if (!c) continue;
      const alive = c.root === this.o.root || (await stat(c.root).then(() => true, () => false)) || (await linkExists(c.bridge));
      if (alive) out.push(c);
      else await rm(join(this.claimsDir, f), { force: true });
    }
    return out;
  }

  /**
   * Before a network is defined, under the host-wide lock: its bridge and subnet may not be another
   * runtime's (nor an interface that is not Berth's); records the claim. Nothing on the host changes yet.
   */
  async claim(bridge: string, subnet: Cidr, subnetText: string): Promise<void> {
    await this.lock.run(async () => {
      let mine = false;
      for (const c of await this.claims()) {
        if (c.root === this.o.root && c.bridge === bridge) {
          mine = true;
          continue;
        }
        if (c.bridge === bridge) throw conflict(`bridge: ${bridge} is in use by another Berth runtime (${c.root}); choose another bridge name`);
        const other = parseCidrLoose(c.subnet);
        if (c.root !== this.o.root && other && overlaps(subnet, other)) throw conflict(`subnet: ${subnetText} overlaps ${c.subnet} of another Berth runtime (${c.root}) on this node`);
      }
      if (!mine && (await linkExists(bridge))) throw conflict(`bridge: an interface named ${bridge} already exists on this node and is not Berth's; choose another bridge name`);
      await mkdir(this.claimsDir, { recursive: true });
      await writeFile(join(this.claimsDir, bridge), JSON.stringify({ bridge, subnet: subnetText, root: this.o.root } satisfies Claim));
    });
  }

  /** The network is gone: its claim too; with the last claim of the host, ip_forward and the tables are put back. */
  async release(bridge: string): Promise<void> {
    await this.lock.run(async () => {
      await rm(join(this.claimsDir, bridge), { force: true });
      if ((await this.claims()).length === 0) await this.restoreOriginal();
    });
  }

  /** Bridges Berth runtimes of this host hold. */
  async berthBridges(): Promise<string[]> {
    return (await this.claims()).map((c) => c.bridge);
  }

  /** Before a network first changes the host (its rules, its bridge): the host's state as it was, once per boot. */
  async rememberOriginal(): Promise<void> {
    await this.lock.run(() => this.rememberOriginalLocked());
  }

  private async rememberOriginalLocked(): Promise<void> {
    await mkdir(this.stateDir, { recursive: true });
    const file = join(this.stateDir, 'original.json');
    let fh;
    try {
      fh = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    } catch {
      return; // already remembered this boot, before an earlier network
    }
    try {
      const ipForward = (await readFile(IP_FORWARD, 'utf8')).trim();
      await fh.writeFile(JSON.stringify({ ipForward, tables: await listTables() }));
    } finally {
      await fh.close();
    }
  }

  private async restoreOriginal(): Promise<void> {
    const file = join(this.stateDir, 'original.json');
    const saved = await readFile(file, 'utf8').then((s) => JSON.parse(s) as { ipForward: string; tables: string[] }, () => undefined);
    if (!saved) return;
    await removeEmptyHostportChains();
    for (const t of await listTables()) {
      if (!WATCHED_TABLES.includes(t) || saved.tables.includes(t)) continue;
      if (await tableIsEmpty(t)) await runCommand('nft', ['delete', 'table', ...t.split(' ')]);
    }
    if (saved.ipForward === '0' || saved.ipForward === '1') await writeFile(IP_FORWARD, saved.ipForward);
    await rm(file, { force: true });
  }

  /**
   * Replaces this runtime's nftables table in one transaction: masquerade for the networks with a
   * way out, drops for internal networks, and isolation of each isolated network from every other
   * Berth bridge of the host. No network left: the table goes.
   */
  async applyRules(networks: ResolvedNetwork[]): Promise<void> {
    const exists = (await listTables()).includes(`ip ${this.table}`);
    if (networks.length === 0) {
      if (exists) await ok('nft', ['delete', 'table', 'ip', this.table]);
      return;
    }
    const all = new Set([...(await this.berthBridges()), ...networks.map((n) => n.bridge)]);
    const q = (s: string): string => `"${s}"`;
    const forward: string[] = [];
    const nat: string[] = [];
    for (const n of networks) {
      const others = [...all].filter((b) => b !== n.bridge);
      if (n.internal) {
        forward.push(`iifname ${q(n.bridge)} oifname != ${q(n.bridge)} drop`, `oifname ${q(n.bridge)} iifname != ${q(n.bridge)} drop`);
      } else {
        nat.push(`ip saddr ${n.subnet} oifname != ${q(n.bridge)} masquerade`);
      }
      if (n.isolated && others.length > 0) {
        const set = `{ ${others.map(q).join(', ')} }`;
        forward.push(`iifname ${q(n.bridge)} oifname ${set} drop`, `oifname ${q(n.bridge)} iifname ${set} drop`);
      }
    }
    const script = [
      // "add" then "delete" makes the replacement work whether or not the table exists, atomically
      `add table ip ${this.table}`,
      `delete table ip ${this.table}`,
      `table ip ${this.table} {`,
      '  chain forward {',
      '    type filter hook forward priority filter; policy accept;',
      ...forward.map((r) => `    ${r}`),
      '  }',
      '  chain postrouting {',
      '    type nat hook postrouting priority srcnat; policy accept;',
      ...nat.map((r) => `    ${r}`),
      '  }',
      '}',
      '',
    ].join('\n');
    await ok('nft', ['-f', '-'], script);
  }
}

/** "family name" of every nftables table. */
export async function listTables(): Promise<string[]> {
  const out = await ok('nft', ['list', 'tables']);
  return out
    .split('\n')
    .map((l) => /^table (\S+) (\S+)/.exec(l.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]} ${m[2]}`);
}

/** A table with no rule and no chain but the base chains iptables-nft makes. */
export async function tableIsEmpty(t: string): Promise<boolean> {
  const out = await runCommand('nft', ['-j', 'list', 'table', ...t.split(' ')]);
  if (out.code !== 0) return false;
  const items = (JSON.parse(out.stdout) as { nftables: Array<Record<string, { hook?: string }>> }).nftables;
  for (const it of items) {
    if ('rule' in it || 'set' in it || 'map' in it) return false;
    if ('chain' in it && !it.chain!.hook) return false;
  }
  return true;
}

/** portmap's shared chains, once no mapping is left in them: the jumps to them, then the chains (iptables-nft). */
export async function removeEmptyHostportChains(): Promise<void> {
  const rules = await runCommand('iptables', ['-t', 'nat', '-S']);
  if (rules.code !== 0 || !rules.stdout.includes('-N CNI-HOSTPORT-DNAT')) return;
  if (/^-A CNI-HOSTPORT-DNAT /m.test(rules.stdout)) return; // someone's mappings are still there
  for (const line of rules.stdout.split('\n')) {
    if (/^-A (PREROUTING|OUTPUT|POSTROUTING) .*-j CNI-HOSTPORT-(DNAT|MASQ)\b/.test(line)) {
      await runCommand('iptables', ['-t', 'nat', ...splitRule(line.replace(/^-A/, '-D'))]);
    }
  }
  for (const c of HOSTPORT_CHAINS) await runCommand('iptables', ['-t', 'nat', '-F', c]);
  for (const c of HOSTPORT_CHAINS) await runCommand('iptables', ['-t', 'nat', '-X', c]);
}

/** `iptables -S` output back into arguments (quoted comments kept whole). */
export function splitRule(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  return out;
}

/** Container IDs with a portmap rule of network `name` in the nat table ("dnat name: \"N\" id: \"ID\""). */
export async function portmapRuleOwners(name: string): Promise<string[]> {
  const r = await runCommand('iptables', ['-t', 'nat', '-S', 'CNI-HOSTPORT-DNAT']);
  if (r.code !== 0) return [];
  const out = new Set<string>();
  for (const m of r.stdout.matchAll(/dnat name: \\"([^"\\]+)\\" id: \\"([^"\\]+)\\"/g)) if (m[1] === name) out.add(m[2]!);
  return [...out];
}
