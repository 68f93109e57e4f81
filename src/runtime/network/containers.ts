/**
 * Networking of one container, as the container and task services call it: at create, its network
 * namespace (made, or another container's joined) and its /etc/resolv.conf; before start, its
 * attachment (CNI ADD, or CHECK of the one it kept across an exit); after a stop, the attachment's
 * DEL; at removal, the namespace too; and the networks after the first joined or left while it runs
 * (docker network connect/disconnect). Kept apart from the container services so that they only call
 * in here, at those points.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { invalid } from '../util/errors.js';
import type { ContainerRecord } from '../containers/record.js';
import type { CreateSpec } from '../containers/options.js';
import type { Attachment, NetworkService } from './service.js';

/** Where the container's network namespace comes from, in OCI terms. */
export type NamespaceChoice = 'none' | 'host' | { path: string };

export interface PreparedNetwork {
  namespace: NamespaceChoice;
  /** resolv.conf content for a bridge container (the embedded DNS of its first network). */
  resolvConf?: string;
  /** A container:NAME joiner shares that container's /etc/hosts and /etc/resolv.conf. */
  shareEtcFrom?: string;
}

export interface NetworkLookups {
  /** The directory of a container's state (its etc files live there). */
  dirOf(id: string): string;
  resolve(ref: string): Promise<ContainerRecord>;
  /** The init pid of a running container, else undefined. */
  runningPid(rec: ContainerRecord): Promise<number | undefined>;
  /** The network namespace path in a container's OCI spec; null when it shares the host's, undefined when runc makes one. */
  specNamespacePath(id: string): Promise<string | null | undefined>;
}

const LOCALHOST = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n';

export class ContainerNetworking {
  constructor(
    readonly service: NetworkService,
    private readonly lookups: NetworkLookups,
  ) {}

  /** Create time: checks the request, makes the namespace (bridge) or finds the one to join (container:NAME). */
  async prepare(id: string, opts: CreateSpec): Promise<PreparedNetwork> {
    if (opts.network === 'none' || opts.network === 'host') {
      if (opts.ports.length > 0) throw invalid(`ports: published ports need network bridge, not ${opts.network}`);
      return { namespace: opts.network };
    }
    if (opts.network === 'container') {
      if (opts.ports.length > 0) throw invalid('ports: a container that shares another container\'s network publishes nothing; publish the ports on that container');
      if (!opts.networkContainer) throw invalid('networkContainer: network container needs the container to share the namespace of');
      const target = await this.lookups.resolve(opts.networkContainer).catch(() => {
        throw invalid(`networkContainer: container "${opts.networkContainer}" not found`);
      });
      if (target.id === id) throw invalid('networkContainer: a container cannot share its own network');
      const path = await this.lookups.specNamespacePath(target.id);
      if (path === null) return { namespace: 'host', shareEtcFrom: target.id };
      if (path !== undefined) return { namespace: { path }, shareEtcFrom: target.id };
      const pid = await this.lookups.runningPid(target);
      if (!pid) throw invalid(`networkContainer: container "${opts.networkContainer}" is not running`);
      return { namespace: { path: `/proc/${pid}/ns/net` }, shareEtcFrom: target.id };
    }
    const nets = await this.service.validate({ networks: opts.networks, ports: opts.ports });
    const path = await this.service.netns.create(id);
    return { namespace: { path }, resolvConf: `nameserver ${nets[0]!.gateway}\noptions ndots:0\n` };
  }

  /** Undoes prepare (a failed create). */
  async discard(id: string): Promise<void> {
    await this.service.netns.remove(id);
  }

  /**
   * Before the container's process is created: ADD, or, when an attachment was kept across an exit,
   * CHECK (and DEL + ADD when the check fails). Rewrites /etc/hosts with the container's address.
   */
  async beforeStart(rec: ContainerRecord): Promise<Attachment | undefined> {
    if (rec.options.network !== 'bridge') return undefined;
    const netns = await this.service.netns.create(rec.id);
    let att = await this.service.attachment(rec.id);
    if (att?.state === 'ready') {
      const ok = await this.service.check(rec.id).then(() => true, () => false);
      if (!ok) {
        await this.service.detach(rec.id);
        att = undefined;
      }
    } else if (att) {
      await this.service.detach(rec.id);
      att = undefined;
    }
    att ??= await this.service.attach(rec.id, netns, { networks: rec.options.networks, ports: rec.options.ports });
    await this.writeHosts(rec, att);
    return att;
  }

  private async writeHosts(rec: ContainerRecord, att: Attachment): Promise<void> {
    const lines = att.networks.filter((n) => n.ip).map((n) => `${n.ip}\t${rec.hostname}\n`);
    // in place, not renamed: the file is bind-mounted into a container that may already be running
    await writeFile(join(this.lookups.dirOf(rec.id), 'hosts'), LOCALHOST + lines.join(''));
  }

  /**
   * A running container's networks after the first, made what `networks` says: the ones gone (or
   * changed: aliases, address) are left, the new ones joined (docker network connect/disconnect). The first
   * network is the container's eth0 and stays. Nothing to do without a ready attachment (not running:
   * its next start attaches what the record says).
   */
  async updateNetworks(rec: ContainerRecord, networks: CreateSpec['networks']): Promise<void> {
    let att = await this.service.attachment(rec.id);
    if (rec.options.network !== 'bridge' || !att || att.state !== 'ready') return;
    const same = (a: Attachment['networks'][number], b: CreateSpec['networks'][number]): boolean =>
      a.name === b.name && (a.ipv4Address ?? '') === (b.ipv4Address ?? '') && JSON.stringify(a.aliases) === JSON.stringify(b.aliases);
    for (const a of att.networks.slice(1)) {
      if (!networks.slice(1).some((n) => same(a, n))) att = (await this.service.disconnectNetwork(rec.id, a.name)) ?? att;
    }
    for (const [i, n] of networks.entries()) {
      if (i === 0 || att.networks.some((a) => same(a, n))) continue;
      att = await this.service.connectNetwork(rec.id, n, i);
    }
    await this.writeHosts(rec, att);
  }

  /** After a stop on request (and after a failed start): DEL, so addresses and ports go back. */
  async afterStop(rec: ContainerRecord): Promise<void> {
    if (rec.options.network !== 'bridge') return;
    await this.service.detach(rec.id);
  }

  /** Removal: DEL and the namespace. */
  async release(rec: ContainerRecord): Promise<void> {
    if (rec.options.network !== 'bridge') return;
    await this.service.detach(rec.id);
    await this.service.netns.remove(rec.id);
  }

  /** docker inspect's NetworkSettings: networks with addresses, published ports, the namespace. */
  async inspect(rec: ContainerRecord): Promise<Record<string, unknown>> {
    const att = rec.options.network === 'bridge' ? await this.service.attachment(rec.id) : undefined;
    const networks: Record<string, unknown> = {};
    for (const n of att?.networks ?? []) {
      networks[n.name] = { Aliases: n.aliases, IPAddress: n.ip ?? '', IPPrefixLen: n.prefix ?? 0, Gateway: n.gateway ?? '', MacAddress: n.mac ?? '', ...(n.ipv4Address ? { IPAMConfig: { IPv4Address: n.ipv4Address } } : {}) };
    }
    const ports: Record<string, Array<{ HostIp: string; HostPort: string }> | null> = {};
    for (const p of rec.options.ports) ports[`${p.containerPort}/${p.protocol}`] = null;
    for (const p of att?.state === 'ready' ? att.ports : []) {
      const key = `${p.containerPort}/${p.protocol}`;
      ports[key] = [...(ports[key] ?? []), { HostIp: p.hostIP ?? '0.0.0.0', HostPort: String(p.hostPort) }];
    }
    const first = att?.networks[0];
    return {
      SandboxKey: rec.options.network === 'bridge' ? this.service.netns.path(rec.id) : '',
      IPAddress: first?.ip ?? '',
      IPPrefixLen: first?.prefix ?? 0,
      Gateway: first?.gateway ?? '',
      MacAddress: first?.mac ?? '',
      Ports: ports,
      Networks: networks,
    };
  }

  /** The etc files of a container:NAME joiner that come from NAME (hosts, resolv.conf when NAME has one). */
  async sharedEtcFiles(targetId: string): Promise<Array<{ target: string; source: string }>> {
    const dir = this.lookups.dirOf(targetId);
    const out = [{ target: '/etc/hosts', source: join(dir, 'hosts') }];
    if (await readFile(join(dir, 'resolv.conf')).then(() => true, () => false)) out.push({ target: '/etc/resolv.conf', source: join(dir, 'resolv.conf') });
    return out;
  }
}
