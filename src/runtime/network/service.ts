/**
 * The runtime's network service: the networks defined on this node (a bridge and a subnet each),
 * each container's attachment to them through the CNI plugins (its namespace, interfaces, addresses,
 * published ports, DNS names), and the undoing of all of it: on detach, on a failed attach, for a
 * removed network, and for whatever a killed process left with no container behind it (sweep).
 * State lives under <root>/network: definitions, attachment records (written before the first
 * plugin runs, so that a crash mid-ADD is undone), the CNI result cache and host-local's leases.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { allEnded } from '../../util/all-ended.js';
import { conflict, invalid, notFound, RuntimeError } from '../util/errors.js';
import { atomicWriteJson, readDirOrEmpty, readJsonIfExists } from '../util/fs.js';
import { Mutex } from '../util/mutex.js';
import { RwLock } from '../util/rw-lock.js';
import { runCommand } from '../util/exec.js';
import { CniInvoker, CniPluginError, type CniResult, type NetworkConfigList } from './cni.js';
import { bridgeConfList, fixedAddressProblem, loopbackConfList, resolveNetwork, type NetworkDefinitionInput, type ResolvedNetwork } from './config.js';
import { DnsResponder, upstreamsFromResolvConf, type DnsRecord, type Upstream } from './dns.js';
import { hostRoutes, HostNetwork, linkExists, portmapRuleOwners, removeEmptyHostportChains } from './host.js';
import { formatCidr, overlaps, parseCidr } from '../../util/ipv4.js';
import { NetnsStore } from './netns.js';
import { PortReservations, type PortMapping } from './ports.js';
import { AttachmentRecords, type Attachment } from './attachments.js';
import { interfaceCounters, type InterfaceCounters } from './counters.js';

export type { Attachment } from './attachments.js';
export type { InterfaceCounters } from './counters.js';

export interface AttachRequest {
  networks: Array<{ name: string; aliases: string[]; ipv4Address?: string }>;
  ports: PortMapping[];
}

export interface NetworkInfo extends ResolvedNetwork {
  /** Containers attached on this node. */
  containers: string[];
  bridgeUp: boolean;
}

export interface NetworkServiceOptions {
  root: string;
  /** Where the CNI plugins are (default /usr/lib/cni, /opt/cni/bin). */
  pluginDirs?: string[];
  /** Host-wide markers (default /run/berth/network). */
  hostStateDir?: string;
  pluginTimeoutMs?: number;
  log?: (line: string) => void;
}

const LOOPBACK = loopbackConfList();

export class NetworkService {
  readonly netns: NetnsStore;
  readonly host: HostNetwork;
  private readonly dir: string;
  private readonly cni: CniInvoker;
  private readonly ports = new PortReservations();
  private dns: DnsResponder | undefined;
  private readonly lock = new RwLock();
  private defs: Map<string, ResolvedNetwork> | undefined;
  /** Networks whose rules are on the host (they have, or are about to have, their bridge). */
  private readonly active = new Set<string>();
  private readonly activation = new Mutex();
  private readonly log: (line: string) => void;
  private readonly records: AttachmentRecords;

  constructor(private readonly o: NetworkServiceOptions) {
    this.dir = join(o.root, 'network');
    this.netns = new NetnsStore(o.root);
    this.host = new HostNetwork({ root: o.root, ...(o.hostStateDir ? { stateDir: o.hostStateDir } : {}) });
    this.cni = new CniInvoker({ pluginDirs: o.pluginDirs ?? ['/usr/lib/cni', '/opt/cni/bin'], cacheDir: join(this.dir, 'cni-cache'), ...(o.pluginTimeoutMs ? { timeoutMs: o.pluginTimeoutMs } : {}) });
    this.log = o.log ?? ((l) => console.error(l));
    this.records = new AttachmentRecords(join(this.dir, 'attachments'));
  }

  get ipamDir(): string {
    return join(this.dir, 'ipam');
  }

  private defPath(name: string): string {
    return join(this.dir, 'networks', `${name}.json`);
  }

  private async definitions(): Promise<Map<string, ResolvedNetwork>> {
    if (!this.defs) {
      const defs = new Map<string, ResolvedNetwork>();
      for (const f of await readDirOrEmpty(join(this.dir, 'networks'))) {
        if (!f.endsWith('.json')) continue;
        try {
          const d = resolveNetwork((await readJsonIfExists(join(this.dir, 'networks', f))) as NetworkDefinitionInput);
          defs.set(d.name, d);
        } catch (e) {
          this.log(`network: ignoring the unreadable definition ${f}: ${(e as Error).message}`);
        }
      }
      this.defs = defs;
    }
    return this.defs;
  }

  // ---------- the embedded DNS ----------

  /**
   * Starts what lives in this process: the DNS responder (upstreams: `dnsUpstreams`, else the node's
   * resolv.conf) on every network with a bridge, with the names and published ports of the
   * attachments already on disk (a restarted agent picks them up again).
   */
  async start(o: { dnsUpstreams?: Upstream[] } = {}): Promise<void> {
    const upstreams = o.dnsUpstreams ?? upstreamsFromResolvConf(await readFile('/etc/resolv.conf', 'utf8').catch(() => ''));
    if (this.dns) {
      this.dns.setUpstreams(upstreams);
      return;
    }
    this.dns = new DnsResponder({ upstreams, log: this.log });
    await this.lock.read(async () => {
      const defs = await this.definitions();
      for (const a of await this.records.list()) {
        if (a.state !== 'ready') continue;
        if (a.ports.length > 0) {
          await this.ports.reserve(a.containerId, a.ports, (i) => `ports[${i}]`).catch((e: unknown) => this.log(`network: container ${a.containerId}: published ports not held again: ${(e as Error).message}`));
        }
        for (const n of a.networks) if (n.ip) this.dns!.register(n.name, a.containerId, n.aliases, n.ip);
      }
      const up: ResolvedNetwork[] = [];
      for (const d of defs.values()) if (await linkExists(d.bridge)) up.push(d);
      await this.activate(up);
      for (const d of up) await this.ensureDns(d);
    });
  }

  private async ensureDns(net: ResolvedNetwork): Promise<void> {
    if (!this.dns || this.dns.isListening(net.name)) return;
    await this.dns.listen(net.name, net.gateway, net.dnsNames).catch((e: unknown) => this.log(`network: ${net.name}: DNS not served on ${net.gateway}:53: ${(e as Error).message}`));
  }

  /** Names the DNS responder answers, by network and container (empty before start). */
  dnsEntries(): DnsRecord[] {
    return this.dns?.entries() ?? [];
  }

  /** Stops the DNS responder and lets go of the published ports this process holds (the mappings stay). */
  async close(): Promise<void> {
    await this.dns?.close();
    this.dns = undefined;
    this.ports.releaseAll();
  }

  // ---------- networks ----------

  /**
   * Defines (or keeps) a network on this node. Its subnet may overlap neither another network nor a
   * route of the node; a network in use cannot change. Changes nothing on the host yet: its rules and bridge come
   * with the first container.
   */
  async define(input: NetworkDefinitionInput): Promise<ResolvedNetwork> {
    const net = resolveNetwork(input);
    return this.lock.write(async () => {
      const defs = await this.definitions();
      const old = defs.get(net.name);
      if (old && sameNetwork(old, net)) return old;
      const subnet = parseCidr(net.subnet)!;
      for (const other of defs.values()) {
        if (other.name === net.name) continue;
        if (overlaps(subnet, parseCidr(other.subnet)!)) throw conflict(`subnet: ${net.subnet} overlaps network ${other.name} (${other.subnet}) on this node`);
        if (other.bridge === net.bridge) throw conflict(`bridge: ${net.bridge} is the bridge of network ${other.name}`);
      }
      for (const r of await hostRoutes(old?.bridge === net.bridge ? net.bridge : undefined)) {
        if (r.dev === net.bridge) continue;
        if (overlaps(subnet, r.block)) throw conflict(`subnet: ${net.subnet} overlaps the route ${formatCidr(r.block)} on ${r.dev} of this node`);
      }
      if (old) {
        const users = (await this.records.list()).filter((a) => a.networks.some((n) => n.name === net.name));
        if (users.length > 0) throw conflict(`network ${net.name} has ${users.length} container(s) attached and cannot change; remove them first`);
        await this.teardownLocked(old);
      }
      await this.host.claim(net.bridge, subnet, net.subnet);
      await atomicWriteJson(this.defPath(net.name), net);
      defs.set(net.name, net);
      if (this.active.has(net.name)) await this.host.applyRules(this.activeDefs());
      return net;
    });
  }

  /**
   * The first block of `prefix` bits in `pool` that overlaps no network of this runtime, no route of
   * the node and no other Berth runtime's claim (Docker's default address pools), or undefined.
   */
  async freeSubnet(pool: string, prefix: number, exclude: string[] = []): Promise<string | undefined> {
    const p = parseCidr(pool);
    if (!p || prefix < p.prefix || prefix > 29) throw invalid(`pool: ${pool} cannot be cut into /${prefix} blocks`);
    const taken = [
      ...[...(await this.definitions()).values()].map((d) => parseCidr(d.subnet)!),
      ...(await hostRoutes()).map((r) => r.block),
      ...(await this.host.claims()).map((c) => parseCidr(c.subnet)).filter((c) => c !== undefined),
      ...exclude.map((e) => parseCidr(e)).filter((c) => c !== undefined),
    ];
    const step = 2 ** (32 - prefix);
    for (let n = p.network; n + step - 1 <= p.network + 2 ** (32 - p.prefix) - 1; n += step) {
      const block = { network: n, prefix };
      if (!taken.some((t) => overlaps(block, t))) return formatCidr(block);
    }
    return undefined;
  }

  private activeDefs(): ResolvedNetwork[] {
    return [...(this.defs?.values() ?? [])].filter((d) => this.active.has(d.name));
  }

  /**
   * A network's first container is coming: the host's state is remembered (once per boot, before any
   * Berth network changed it) and the network's rules go on. A defined network that never gets a
   * container changes nothing on the host.
   */
  private async activate(nets: ResolvedNetwork[]): Promise<void> {
    if (nets.every((n) => this.active.has(n.name))) return;
    await this.activation.run(async () => {
      if (nets.every((n) => this.active.has(n.name))) return;
      await this.host.rememberOriginal();
      for (const n of nets) this.active.add(n.name);
      await this.host.applyRules(this.activeDefs());
    });
  }

  async get(name: string): Promise<ResolvedNetwork | undefined> {
    return (await this.definitions()).get(name);
  }

  async list(): Promise<NetworkInfo[]> {
    const defs = await this.definitions();
    const atts = await this.attachments();
    const out: NetworkInfo[] = [];
    for (const d of defs.values()) {
      out.push({ ...d, containers: atts.filter((a) => a.networks.some((n) => n.name === d.name)).map((a) => a.containerId), bridgeUp: await linkExists(d.bridge) });
    }
    return out;
  }

  /** Removes a network with no container attached: its bridge, leases, rules; the host's state with the last one. */
  async remove(name: string): Promise<void> {
    await this.lock.write(async () => {
      const def = (await this.definitions()).get(name);
      if (!def) throw notFound(`network ${name} is not defined on this node`);
      const users = (await this.records.list()).filter((a) => a.networks.some((n) => n.name === name));
      if (users.length > 0) throw conflict(`network ${name} has ${users.length} container(s) attached: ${users.map((u) => u.containerId.slice(0, 12)).join(', ')}`);
      await this.teardownLocked(def);
      this.defs!.delete(name);
      await rm(this.defPath(name), { force: true });
      this.active.delete(name);
      await this.host.applyRules(this.activeDefs());
      await this.host.release(def.bridge);
    });
  }

  /** Removes every network no container is attached to (docker network prune); returns their names. */
  async prune(): Promise<string[]> {
    const unused = (await this.list()).filter((n) => n.containers.length === 0).map((n) => n.name);
    for (const n of unused) await this.remove(n).catch((e: unknown) => this.log(`network: prune ${n}: ${(e as Error).message}`));
    return unused;
  }

  private async teardownLocked(def: ResolvedNetwork): Promise<void> {
    await this.dns?.stop(def.name);
    // leftovers of a crash: portmap rules of this network whose container is gone
    for (const id of await portmapRuleOwners(def.name)) {
      await this.cni.delList({ cniVersion: '1.0.0', name: def.name, plugins: [{ type: 'portmap', capabilities: { portMappings: true }, snat: true }] }, { containerId: id, netns: '', ifName: 'eth0' }).catch(() => undefined);
    }
    if (await linkExists(def.bridge)) {
      const r = await runCommand('ip', ['link', 'del', def.bridge]);
      if (r.code !== 0 && (await linkExists(def.bridge))) throw conflict(`removing the bridge ${def.bridge}: ${r.stderr.trim()}`);
    }
    await rm(join(this.ipamDir, def.name), { recursive: true, force: true });
    await removeEmptyHostportChains();
  }

  // ---------- attachments ----------

  async attachment(containerId: string): Promise<Attachment | undefined> {
    return this.records.get(containerId);
  }

  async attachments(): Promise<Attachment[]> {
    return this.records.list();
  }

  /**
   * Checks a request against the networks defined here, before anything is made (create time): errors
   * name the field (networks[i].name, networks[i].ipv4Address, ports[i]...).
   */
  async validate(req: AttachRequest): Promise<ResolvedNetwork[]> {
    const defs = await this.definitions();
    const nets: ResolvedNetwork[] = [];
    if (req.networks.length === 0) throw invalid('networks: a bridge-networked container needs at least one network');
    const seen = new Set<string>();
    for (const [i, n] of req.networks.entries()) {
      const def = defs.get(n.name);
      if (!def) throw invalid(`networks[${i}].name: network "${n.name}" is not defined on this node`);
      if (seen.has(n.name)) throw invalid(`networks[${i}].name: network "${n.name}" is named twice`);
      seen.add(n.name);
      if (n.ipv4Address !== undefined) {
        const problem = fixedAddressProblem(def, n.ipv4Address);
        if (problem) throw invalid(`networks[${i}].ipv4Address: ${problem}`);
      }
      nets.push(def);
    }
    const published = new Set<string>();
    for (const [i, p] of req.ports.entries()) {
      if (p.hostIP !== undefined && !/^\d{1,3}(\.\d{1,3}){3}$/.test(p.hostIP)) throw invalid(`ports[${i}].hostIP: ${JSON.stringify(p.hostIP)} is not an IPv4 address`);
      const key = `${p.hostIP ?? '0.0.0.0'}:${p.hostPort}/${p.protocol}`;
      if (p.hostPort !== 0 && published.has(key)) throw invalid(`ports[${i}].hostPort: ${key} is published twice`);
      published.add(key);
    }
    return nets;
  }

  /**
   * Connects a container's namespace to its networks: loopback, then each network's list (bridge +
   * host-local, with portmap on the first when ports are published) on eth0, eth1... All or nothing:
   * a failure runs DEL for every list and lets go of the ports before it is thrown.
   */
  async attach(containerId: string, netnsPath: string, req: AttachRequest): Promise<Attachment> {
    return this.lock.read(async () => {
      const nets = await this.validate(req);
      const pending: Attachment = {
        containerId,
        netns: netnsPath,
        state: 'adding',
        networks: req.networks.map((n, i) => ({ name: n.name, ifName: `eth${i}`, aliases: n.aliases, ...(n.ipv4Address ? { ipv4Address: n.ipv4Address } : {}) })),
        ports: req.ports,
      };
      await this.activate(nets);
      await this.records.write(pending);
      try {
        const ports = req.ports.length > 0 ? await this.ports.reserve(containerId, req.ports, (i) => `ports[${i}]`) : [];
        pending.ports = ports;
        const results = await allEnded([
          this.cni.addList(LOOPBACK, { containerId, netns: netnsPath, ifName: 'lo' }),
          ...nets.map((net, i) => this.addNetwork(containerId, netnsPath, net, pending.networks[i]!, i === 0 ? ports : [], i)),
        ]);
        const ready: Attachment = { ...pending, state: 'ready', networks: pending.networks.map((n, i) => ({ ...n, ...addressOf(results[i + 1] as CniResult) })) };
        await this.records.write(ready);
        for (const [i, net] of nets.entries()) {
          await this.ensureDns(net);
          const a = ready.networks[i]!;
          if (a.ip) this.dns?.register(net.name, containerId, a.aliases, a.ip);
        }
        return ready;
      } catch (e) {
        await this.detachLocked(containerId, pending).catch((e2: unknown) => this.log(`network: undoing the attach of ${containerId}: ${(e2 as Error).message}`));
        throw e;
      }
    });
  }

  private async addNetwork(containerId: string, netns: string, net: ResolvedNetwork, a: Attachment['networks'][number], ports: PortMapping[], i: number): Promise<CniResult> {
    const list = bridgeConfList(net, { ipamDir: this.ipamDir, portmap: ports.length > 0 });
    try {
      return await this.cni.addList(list, {
        containerId,
        netns,
        ifName: a.ifName,
        ...(a.ipv4Address ? { args: [['IgnoreUnknown', '1'], ['IP', a.ipv4Address]] as Array<[string, string]> } : {}),
        ...(ports.length > 0 ? { capabilityArgs: { portMappings: ports.map((p) => ({ hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol, ...(p.hostIP && p.hostIP !== '0.0.0.0' ? { hostIP: p.hostIP } : {}) })) } } : {}),
      });
    } catch (e) {
      if (e instanceof CniPluginError && a.ipv4Address && /requested IP address|already (been )?allocated|not available/i.test(e.msg)) {
        throw conflict(`networks[${i}].ipv4Address: ${a.ipv4Address} is already in use on network ${net.name}`);
      }
      if (e instanceof CniPluginError && /no IP addresses available/i.test(e.msg)) throw conflict(`networks[${i}].name: no free address left on network ${net.name} (${net.ipRange ?? net.subnet})`);
      if (e instanceof CniPluginError) throw new RuntimeError('Failed', `networks[${i}]: attaching to network ${net.name}: ${e.message}`);
      throw e;
    }
  }

  /**
   * CHECK of every list of an attachment (the spec's CHECK with the cached result). Throws what the
   * first failing plugin says; note that portmap 1.1 fails CHECK whenever ip6tables has no nat
   * chain of its own, so a failed CHECK is a reason to attach again, not proof of damage.
   */
  async check(containerId: string): Promise<void> {
    await this.lock.read(async () => {
      const a = await this.attachment(containerId);
      if (!a || a.state !== 'ready') throw notFound(`container ${containerId} has no network attachment`);
      const defs = await this.definitions();
      await this.cni.checkList(LOOPBACK, { containerId, netns: a.netns, ifName: 'lo' });
      for (const [i, n] of a.networks.entries()) {
        const def = defs.get(n.name);
        if (!def) throw notFound(`network ${n.name} is no longer defined`);
        const cached = await this.cni.cached(n.name, { containerId, ifName: n.ifName });
        const list = cached?.config ?? bridgeConfList(def, { ipamDir: this.ipamDir, portmap: i === 0 && a.ports.length > 0 });
        await this.cni.checkList(list, { containerId, netns: a.netns, ifName: n.ifName, ...(cached?.cniArgs ? { args: cached.cniArgs } : {}), ...(cached?.capabilityArgs ? { capabilityArgs: cached.capabilityArgs } : {}) });
      }
    });
  }

  /**
   * docker network connect of a running container: one more network on its ready attachment, on the next
   * free interface (eth1, eth2...), named in its DNS as on the others. A failed ADD is undone (DEL) and
   * leaves the attachment as it was. Index `i` names the request's field in errors (networks[i]).
   */
  async connectNetwork(containerId: string, n: AttachRequest['networks'][number], i: number): Promise<Attachment> {
    return this.lock.read(async () => {
      const a = await this.attachment(containerId);
      if (!a || a.state !== 'ready') throw conflict(`container ${containerId} has no network attachment to add to (not running)`);
      if (a.networks.some((x) => x.name === n.name)) return a;
      const defs = await this.definitions();
      const net = defs.get(n.name);
      if (!net) throw invalid(`networks[${i}].name: network "${n.name}" is not defined on this node`);
      if (n.ipv4Address !== undefined) {
        const problem = fixedAddressProblem(net, n.ipv4Address);
        if (problem) throw invalid(`networks[${i}].ipv4Address: ${problem}`);
      }
      await this.activate([net]);
      const used = new Set(a.networks.map((x) => x.ifName));
      let k = 0;
      while (used.has(`eth${k}`)) k++;
      const entry: Attachment['networks'][number] = { name: n.name, ifName: `eth${k}`, aliases: n.aliases, ...(n.ipv4Address ? { ipv4Address: n.ipv4Address } : {}) };
      let result: CniResult;
      try {
        result = await this.addNetwork(containerId, a.netns, net, entry, [], i);
      } catch (e) {
        await this.cni.delList(bridgeConfList(net, { ipamDir: this.ipamDir, portmap: false }), { containerId, netns: a.netns, ifName: entry.ifName }).catch(() => undefined);
        throw e;
      }
      const ready: Attachment = { ...a, networks: [...a.networks, { ...entry, ...addressOf(result) }] };
      await this.records.write(ready);
      await this.ensureDns(net);
      const added = ready.networks[ready.networks.length - 1]!;
      if (added.ip) this.dns?.register(net.name, containerId, added.aliases, added.ip);
      return ready;
    });
  }

  /** docker network disconnect of a running container: DEL of one network (never the first: eth0 carries the published ports). */
  async disconnectNetwork(containerId: string, name: string): Promise<Attachment | undefined> {
    return this.lock.read(async () => {
      const a = await this.attachment(containerId);
      const at = a?.networks.findIndex((x) => x.name === name) ?? -1;
      if (!a || at < 0) return a;
      if (at === 0) throw conflict(`network ${name} is the container's first network (eth0, its published ports): leaving it needs the container recreated`);
      const n = a.networks[at]!;
      this.dns?.unregister(containerId, name);
      const def = (await this.definitions()).get(name);
      const cached = await this.cni.cached(name, { containerId, ifName: n.ifName });
      const list = cached?.config ?? (def ? bridgeConfList(def, { ipamDir: this.ipamDir, portmap: false }) : undefined);
      if (list) await this.cni.delList(list, { containerId, netns: (await this.netns.isNamespace(a.netns)) ? a.netns : '', ifName: n.ifName });
      const left: Attachment = { ...a, networks: a.networks.filter((_, j) => j !== at) };
      await this.records.write(left);
      return left;
    });
  }

  /** DEL of every list of a container, in reverse, then its ports, DNS names and record. Nothing attached: nothing to do. */
  async detach(containerId: string): Promise<void> {
    await this.lock.read(async () => {
      const a = await this.attachment(containerId);
      if (a || (await this.cni.cachedAttachments(containerId)).length > 0) await this.detachLocked(containerId, a);
    });
  }

  private async detachLocked(containerId: string, a: Attachment | undefined): Promise<void> {
    this.dns?.unregister(containerId);
    this.ports.release(containerId);
    const defs = await this.definitions();
    const lists: Array<{ list: NetworkConfigList; ifName: string; netns: string }> = [];
    for (const [i, n] of (a?.networks ?? []).entries()) {
      const def = defs.get(n.name);
      if (def) lists.push({ list: bridgeConfList(def, { ipamDir: this.ipamDir, portmap: i === 0 && a!.ports.length > 0 }), ifName: n.ifName, netns: a!.netns });
    }
    // cached attachments the record does not know of (a crash between ADD and the record) go too
    for (const c of await this.cni.cachedAttachments(containerId)) {
      if (c.networkName === LOOPBACK.name || lists.some((l) => l.list.name === c.networkName && l.ifName === c.ifName)) continue;
      lists.push({ list: c.config, ifName: c.ifName, netns: c.netns });
    }
    const netns = a?.netns ?? this.netns.path(containerId);
    const nsPresent = await this.netns.isNamespace(netns);
    let firstError: unknown;
    for (const l of lists.reverse()) {
      await this.cni.delList(l.list, { containerId, netns: nsPresent ? l.netns : '', ifName: l.ifName }).catch((e: unknown) => (firstError ??= e));
    }
    await this.cni.delList(LOOPBACK, { containerId, netns: nsPresent ? netns : '', ifName: 'lo' }).catch(() => undefined);
    if (firstError) throw firstError;
    await this.records.remove(containerId);
  }

  /**
   * Undoes whatever belongs to no container in `live`: attachment records, cached results, namespace
   * files, host-local leases and portmap rules of this runtime's networks (what a crash can leave).
   * Returns what it removed, for the log.
   */
  async sweep(live: Set<string>): Promise<string[]> {
    return this.lock.write(async () => {
      const removed: string[] = [];
      const ids = new Set<string>();
      for (const a of await this.records.list()) ids.add(a.containerId);
      for (const c of await this.cni.cachedAttachments()) ids.add(c.containerId);
      for (const id of ids) {
        if (live.has(id)) continue;
        await this.detachLocked(id, await this.attachment(id)).then(
          () => removed.push(`attachment ${id}`),
          (e: unknown) => this.log(`network: sweep: attachment ${id}: ${(e as Error).message}`),
        );
      }
      // the temporary files of atomic writes a kill cut short
      for (const d of [join(this.dir, 'attachments'), join(this.dir, 'cni-cache', 'results'), join(this.dir, 'networks')]) {
        for (const f of await readDirOrEmpty(d)) {
          if (!/\.tmp-[0-9a-f]+$/.test(f)) continue;
          await rm(join(d, f), { force: true });
          removed.push(`temporary file ${f}`);
        }
      }
      for (const id of await this.netns.list()) {
        if (live.has(id)) continue;
        await this.netns.remove(id).then(() => removed.push(`netns ${id}`), (e: unknown) => this.log(`network: sweep: ${(e as Error).message}`));
      }
      for (const net of (await this.definitions()).values()) {
        const dir = join(this.ipamDir, net.name);
        for (const f of await readDirOrEmpty(dir)) {
          if (!/^\d+\.\d+\.\d+\.\d+$/.test(f)) continue;
          const owner = (await readFile(join(dir, f), 'utf8').catch(() => '')).split(/\r?\n/)[0]?.trim() ?? '';
          if (owner && !live.has(owner)) {
            await rm(join(dir, f), { force: true });
            removed.push(`lease ${net.name} ${f}`);
          }
        }
        for (const id of await portmapRuleOwners(net.name)) {
          if (live.has(id)) continue;
          await this.cni.delList({ cniVersion: '1.0.0', name: net.name, plugins: [{ type: 'portmap', capabilities: { portMappings: true }, snat: true }] }, { containerId: id, netns: '', ifName: 'eth0' }).catch(() => undefined);
          removed.push(`portmap rules ${net.name} ${id}`);
        }
      }
      return removed;
    });
  }

  /** Bytes and packets per interface of a running container's namespace, loopback left out. */
  counters(pid: number): Promise<InterfaceCounters[]> {
    return interfaceCounters(pid);
  }
}

/** Whether two definitions are the same network (field by field: the key order of a stored one may differ). */
function sameNetwork(a: ResolvedNetwork, b: ResolvedNetwork): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)] as Array<keyof ResolvedNetwork>);
  return [...keys].every((k) => JSON.stringify(a[k]) === JSON.stringify(b[k]) || (k === 'labels' && JSON.stringify(Object.entries(a.labels).sort()) === JSON.stringify(Object.entries(b.labels).sort())));
}

/** The address, gateway and MAC of the container's interface in a bridge result. */
function addressOf(r: CniResult): { ip?: string; prefix?: number; gateway?: string; mac?: string } {
  const ip = r.ips?.[0];
  if (!ip) return {};
  const [addr, prefix] = ip.address.split('/');
  const iface = ip.interface !== undefined ? r.interfaces?.[ip.interface] : undefined;
  return { ip: addr!, prefix: Number(prefix), ...(ip.gateway ? { gateway: ip.gateway } : {}), ...(iface?.mac ? { mac: iface.mac } : {}) };
}
