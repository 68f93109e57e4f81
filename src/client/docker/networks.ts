/**
 * Docker's networks over Network objects, for both fronts (`berth network ...` and the Docker API's
 * /networks): `bridge` is the node's default network (as Docker's is the daemon's), `host` and
 * `none` are the modes of the same names, every other network is a Network in the namespace. A
 * network's Docker ID is the sha256 of its uid; a Docker name that is not an object name is kept in
 * the annotation berth.dev/docker-name, as for containers. Messages and codes are Docker's.
 */
import { createHash } from 'node:crypto';
import { isConflict, type KObject } from '../api-client.js';
import { NodeType } from '../kinds.js';
import type { DockerEngine } from './engine.js';
import { parseCidr } from '../../util/ipv4.js';
import { checkDockerName, conflict, dockerIdOf, dockerLabelsOf, dockerMetadata, dockerNameOf, DockerError, LABEL_CREATED_BY, notFound, objectNameFor, type CreatedBy } from './names.js';
import { API_VERSION } from './to-container.js';
import { labelMatch, type Filters } from './filters.js';
import { watchUntil } from './watch-until.js';

export const BUILTIN_NETWORKS = ['bridge', 'host', 'none'] as const;
const NETWORK_FILTERS = ['name', 'id', 'driver', 'label', 'type', 'dangling'];
const builtinId = (name: string): string => createHash('sha256').update(`berth-network:${name}`).digest('hex');

type NetSpec = { subnet?: string; gateway?: string; ipRange?: string; bridgeName?: string; internal?: boolean };
type NetStatus = { subnet?: string; gateway?: string; bridge?: string; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
type CtrSpec = { network?: string; networks?: { name: string; aliases?: string[]; ipv4Address?: string }[] };
type CtrStatus = { phase?: string; networks?: { name: string; ipAddress?: string; prefixLength?: number; macAddress?: string }[] };
const isLive = (c: KObject): boolean => ['Running', 'Paused'].includes(((c.status ?? {}) as CtrStatus).phase ?? '');

/** The Network object names a container joins ("bridge" for the default network; none for host, none, container:). */
export function networksOf(c: KObject): string[] {
  const spec = (c.spec ?? {}) as CtrSpec;
  const mode = spec.network ?? 'bridge';
  if (mode !== 'bridge') return mode === 'host' || mode === 'none' ? [mode] : [];
  return spec.networks?.length ? spec.networks.map((n) => n.name) : ['bridge'];
}

/** Network object name → [Docker name, Docker ID], for the views of the containers on them. */
export function networkNames(nets: KObject[]): Record<string, [string, string]> {
  return Object.fromEntries(nets.map((n) => [n.metadata.name, [dockerNameOf(n), dockerIdOf(n)]]));
}

export interface CreateNetworkBody {
  Name?: unknown;
  Driver?: unknown;
  Internal?: unknown;
  Labels?: unknown;
  Options?: unknown;
  EnableIPv6?: unknown;
  IPAM?: { Driver?: unknown; Config?: Array<{ Subnet?: unknown; Gateway?: unknown; IPRange?: unknown }> | null } | null;
}

export class DockerNetworks {
  constructor(
    private readonly engine: DockerEngine,
    private readonly createdBy: CreatedBy,
  ) {}

  private get ns(): string {
    return this.engine.namespace;
  }

  async list(): Promise<KObject[]> {
    return (await this.engine.networks.listAll({ namespace: this.ns })).items;
  }

  /** The default network as the node reports it (subnet, gateway, bridge), when this identity may read the node. */
  private async defaultNetwork(): Promise<{ subnet?: string; gateway?: string; bridge?: string }> {
    const node = this.engine.o.nodeName;
    if (!node) return {};
    const obj = await this.engine.o.client.resource(NodeType).getIfExists(undefined, node).catch(() => undefined);
    const nets = ((obj?.status ?? {}) as { networks?: { name: string; subnet?: string; gateway?: string; bridge?: string }[] }).networks ?? [];
    return nets.find((n) => n.name === 'bridge') ?? {};
  }

  /** docker network inspect's document (and a row of docker network ls). */
  async view(ref: KObject | (typeof BUILTIN_NETWORKS)[number], containers?: KObject[], verbose = true): Promise<Record<string, unknown>> {
    const all = containers ?? (await this.engine.listContainers());
    const objName = typeof ref === 'string' ? ref : ref.metadata.name;
    const attached: Record<string, unknown> = {};
    if (verbose) {
      for (const c of all) {
        if (!networksOf(c).includes(objName)) continue;
        const st = ((c.status ?? {}) as CtrStatus).networks?.find((n) => n.name === objName);
        if (BUILTIN_NETWORKS.includes(objName as never) && objName !== 'bridge') {
          if (!['Running', 'Paused'].includes(((c.status ?? {}) as CtrStatus).phase ?? '')) continue;
        } else if (!st) continue;
        attached[dockerIdOf(c)] = { Name: dockerNameOf(c), EndpointID: '', MacAddress: st?.macAddress ?? '', IPv4Address: st?.ipAddress ? `${st.ipAddress}/${st.prefixLength ?? 24}` : '', IPv6Address: '' };
      }
    }
    const base = { Scope: 'local', EnableIPv6: false, Attachable: false, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false, Containers: attached };
    if (typeof ref === 'string') {
      const def = ref === 'bridge' ? await this.defaultNetwork() : {};
      return {
        Name: ref,
        Id: builtinId(ref),
        Created: '0001-01-01T00:00:00Z',
        Driver: ref === 'none' ? 'null' : ref,
        IPAM: { Driver: 'default', Options: null, Config: def.subnet ? [{ Subnet: def.subnet, ...(def.gateway ? { Gateway: def.gateway } : {}) }] : [] },
        Internal: false,
        ...base,
        Options: ref === 'bridge' && def.bridge ? { 'com.docker.network.bridge.name': def.bridge, 'com.docker.network.bridge.default_bridge': 'true' } : {},
        Labels: {},
      };
    }
    const spec = (ref.spec ?? {}) as NetSpec;
    const st = (ref.status ?? {}) as NetStatus;
    const subnet = spec.subnet ?? st.subnet;
    const gateway = spec.gateway ?? st.gateway;
    return {
      Name: dockerNameOf(ref),
      Id: dockerIdOf(ref),
      Created: ref.metadata.creationTimestamp ?? '0001-01-01T00:00:00Z',
      Driver: 'bridge',
      IPAM: { Driver: 'default', Options: {}, Config: subnet ? [{ Subnet: subnet, ...(gateway ? { Gateway: gateway } : {}), ...(spec.ipRange ? { IPRange: spec.ipRange } : {}) }] : [] },
      Internal: spec.internal === true,
      ...base,
      Options: st.bridge ?? spec.bridgeName ? { 'com.docker.network.bridge.name': (st.bridge ?? spec.bridgeName)! } : {},
      Labels: dockerLabelsOf(ref),
      // Berth's own view: where the object lives and whether the nodes could set it up
      Berth: { Namespace: ref.metadata.namespace ?? this.ns, Name: ref.metadata.name, Ready: st.conditions?.find((c) => c.type === 'Ready') ?? null },
    };
  }

  /** A network by Docker name, object name, Docker ID or a unique ID prefix; the built-in ones too. */
  async find(ref: string): Promise<KObject | (typeof BUILTIN_NETWORKS)[number]> {
    const builtin = BUILTIN_NETWORKS.find((b) => b === ref || builtinId(b) === ref || (ref.length >= 3 && /^[0-9a-f]+$/.test(ref) && builtinId(b).startsWith(ref)));
    if (builtin) return builtin;
    return this.engine.findNetwork(ref);
  }

  /**
   * docker network ls: the documents of the networks every filter key matches (several label values:
   * all of them; of another key: any), Docker's filters name (substring), id (prefix), driver, label,
   * type (builtin|custom) and dangling; an unknown key is Docker's 400.
   */
  async views(filters: Filters): Promise<Record<string, unknown>[]> {
    for (const k of Object.keys(filters)) if (!NETWORK_FILTERS.includes(k)) throw new DockerError(`invalid filter '${k}'`);
    const containers = await this.engine.listContainers();
    const out: Record<string, unknown>[] = [];
    for (const net of await this.all()) {
      const view = await this.view(net, containers);
      const custom = typeof net !== 'string';
      const users = custom ? (await this.usersOf(net, containers)).length : 0;
      const match = (k: string, val: string): boolean => {
        if (k === 'name') return String(view.Name).includes(val);
        if (k === 'id') return String(view.Id).startsWith(val);
        if (k === 'driver') return view.Driver === val;
        if (k === 'type') return !custom === (val === 'builtin');
        if (k === 'dangling') return custom && (users === 0) === (val === 'true' || val === '1');
        return labelMatch(custom ? dockerLabelsOf(net) : {}, val);
      };
      if (Object.entries(filters).every(([k, values]) => values[k === 'label' ? 'every' : 'some']((val) => match(k, val)))) out.push(view);
    }
    return out;
  }

  /** Everything docker network ls shows: the built-in ones, then the Networks. */
  async all(): Promise<Array<KObject | (typeof BUILTIN_NETWORKS)[number]>> {
    return [...BUILTIN_NETWORKS, ...(await this.list())];
  }

  /**
   * docker network create: a Network (label created-by), then waits until a node reports it Ready or
   * why not (an overlapping subnet...): then it is deleted again and the reason is the error.
   */
  async create(body: CreateNetworkBody): Promise<KObject> {
    if (typeof body.Name !== 'string' || body.Name === '') throw new DockerError('network name is required (Name)');
    const dockerName = checkDockerName(body.Name, 'network');
    if (BUILTIN_NETWORKS.includes(dockerName as never) || dockerName === 'default') throw new DockerError(`operation is not permitted on predefined ${dockerName} network `, 403);
    const driver = body.Driver === undefined || body.Driver === '' ? 'bridge' : body.Driver;
    if (driver !== 'bridge') throw new DockerError(`plugin "${String(driver)}" not found: Berth networks take the bridge driver (Driver)`, 404);
    if (body.EnableIPv6 === true) throw new DockerError('IPv6 networks are not supported by Berth (EnableIPv6)');
    const ipam = body.IPAM?.Config ?? [];
    if (ipam.length > 1) throw new DockerError('Berth networks take one IPv4 subnet (IPAM.Config has more than one)');
    const cfg = ipam[0] ?? {};
    const str = (v: unknown, field: string): string | undefined => {
      if (v === undefined || v === null || v === '') return undefined;
      if (typeof v !== 'string') throw new DockerError(`${field}: must be a string`);
      return v;
    };
    const subnet = str(cfg.Subnet, 'IPAM.Config[0].Subnet');
    const gateway = str(cfg.Gateway, 'IPAM.Config[0].Gateway');
    const ipRange = str(cfg.IPRange, 'IPAM.Config[0].IPRange');
    if (subnet !== undefined && subnet.includes(':')) throw new DockerError(`IPv6 subnets are not supported by Berth (IPAM.Config[0].Subnet ${subnet})`);
    if (subnet !== undefined && !parseCidr(subnet)) throw new DockerError(`invalid subnet ${subnet}: must be an IPv4 CIDR block such as 10.89.0.0/24, with the host bits zero (IPAM.Config[0].Subnet)`);
    const opts = body.Options && typeof body.Options === 'object' ? (body.Options as Record<string, string>) : {};
    const bridgeName = opts['com.docker.network.bridge.name'];
    const labels = body.Labels && typeof body.Labels === 'object' ? (body.Labels as Record<string, string>) : {};
    const name = objectNameFor(dockerName);
    const taken = async () => (await this.list()).find((n) => dockerNameOf(n) === dockerName || n.metadata.name === name);
    const holder = await taken();
    if (holder) throw conflict(`network with name ${dockerName} already exists`);
    let created: KObject;
    try {
      created = await this.engine.networks.create(this.ns, {
        apiVersion: API_VERSION,
        kind: 'Network',
        metadata: dockerMetadata({ name, dockerName, labels, createdBy: this.createdBy }),
        spec: { ...(subnet ? { subnet } : {}), ...(gateway ? { gateway } : {}), ...(ipRange ? { ipRange } : {}), ...(bridgeName ? { bridgeName } : {}), ...(body.Internal === true ? { internal: true } : {}) },
      });
    } catch (e) {
      if (isConflict(e)) throw conflict(`network with name ${dockerName} already exists`);
      const msg = (e as Error).message;
      // the API's 422 names the field of the Network: say it in Docker's words, the field kept
      if (/\b422\b|Invalid|invalid/.test(msg)) throw new DockerError(`invalid network configuration: ${msg}`);
      throw e;
    }
    const problem = await watchUntil(
      this.engine.networks,
      this.ns,
      name,
      (o) => {
        if (!o) throw notFound(`network ${dockerName} was deleted while it was being created`);
        const ready = ((o.status ?? {}) as NetStatus).conditions?.find((c) => c.type === 'Ready');
        if (!ready) return undefined;
        return { ok: ready.status === 'True', reason: ready.reason ?? '', message: ready.message ?? '' };
      },
      { timeoutMs: this.engine.o.nodeTimeoutMs ?? 120_000, what: `network ${dockerName}` },
    ).catch(async (e: unknown) => {
      await this.remove(created).catch(() => undefined);
      throw e;
    });
    if (!problem.ok) {
      await this.remove(created).catch(() => undefined);
      throw new DockerError(problem.reason === 'SubnetOverlap' ? `Pool overlaps with other one on this address space: ${problem.message}` : `network ${dockerName}: ${problem.reason}: ${problem.message}`, problem.reason === 'SubnetOverlap' ? 403 : 500);
    }
    return this.engine.networks.get(this.ns, name);
  }

  /** The containers (object names) that name a network. */
  async usersOf(net: KObject, containers?: KObject[]): Promise<KObject[]> {
    return (containers ?? (await this.engine.listContainers())).filter((c) => networksOf(c).includes(net.metadata.name));
  }

  /** docker network rm: refused while a container names it (Docker's "active endpoints"); waits until gone. */
  async remove(net: KObject | (typeof BUILTIN_NETWORKS)[number]): Promise<void> {
    if (typeof net === 'string') throw new DockerError(`${net} is a pre-defined network and cannot be removed`, 403);
    const users = await this.usersOf(net);
    if (users.length) {
      throw new DockerError(`error while removing network: network ${dockerNameOf(net)} id ${dockerIdOf(net)} has active endpoints (${users.map((u) => dockerNameOf(u)).join(', ')})`, 403);
    }
    await this.engine.networks.delete(this.ns, net.metadata.name, { preconditions: { uid: net.metadata.uid! } }).catch(() => undefined);
    await watchUntil(this.engine.networks, this.ns, net.metadata.name, (o) => (!o || o.metadata.uid !== net.metadata.uid ? true : undefined), { timeoutMs: this.engine.o.nodeTimeoutMs ?? 120_000, what: `removal of network ${dockerNameOf(net)}` });
  }

  /** docker network prune: the networks made by Docker's verbs (label created-by) that no container names. */
  async prune(): Promise<string[]> {
    const containers = await this.engine.listContainers();
    const deleted: string[] = [];
    for (const n of await this.list()) {
      if (!n.metadata.labels?.[LABEL_CREATED_BY] || (await this.usersOf(n, containers)).length) continue;
      await this.remove(n);
      deleted.push(dockerNameOf(n));
    }
    return deleted;
  }

  /**
   * docker network connect/disconnect: spec.networks. A running container joins or leaves a network after
   * its first in place (the node adds or removes the interface, eth1...) and the call returns once the
   * node reports it; its first network (eth0, with the published ports) changes only with a new container,
   * so that, and joining a user network from the default one, is refused while it runs.
   */
  async connect(net: KObject | (typeof BUILTIN_NETWORKS)[number], container: KObject, o: { aliases?: string[]; ipv4Address?: string } = {}): Promise<void> {
    if (typeof net === 'string') throw new DockerError(`container cannot be connected to the ${net} network by Berth: choose it at create (--network ${net})`);
    const spec = (container.spec ?? {}) as CtrSpec;
    const mode = spec.network ?? 'bridge';
    if (mode !== 'bridge') throw new DockerError(`container sharing network namespace with another container or host cannot be connected to any other network (network mode ${mode})`);
    if (spec.networks?.some((n) => n.name === net.metadata.name)) throw conflict(`endpoint with name ${dockerNameOf(container)} already exists in network ${dockerNameOf(net)}`);
    if (!spec.networks?.length) this.refuseRunning(container, 'connect', 'on the default network, it would leave it for its first user network (Berth joins one or the other)');
    const aliases = [...new Set((o.aliases ?? []).map((a) => a.toLowerCase()).filter((a) => /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(a) && a.length <= 63))];
    // a container on the default network leaves it for its first user network (Berth joins one or the other)
    const networks = [...(spec.networks ?? []), { name: net.metadata.name, ...(aliases.length ? { aliases } : {}), ...(o.ipv4Address ? { ipv4Address: o.ipv4Address } : {}) }];
    await this.changeNetworks(container, networks, net.metadata.name, true);
  }

  async disconnect(net: KObject | (typeof BUILTIN_NETWORKS)[number], container: KObject): Promise<void> {
    const spec = (container.spec ?? {}) as CtrSpec;
    const name = typeof net === 'string' ? net : net.metadata.name;
    if (!networksOf(container).includes(name)) throw new DockerError(`container ${dockerIdOf(container)} is not connected to network ${typeof net === 'string' ? net : dockerNameOf(net)}`, 403);
    if (typeof net === 'string') throw new DockerError(`container cannot be disconnected from the ${net} network by Berth`);
    if (spec.networks?.[0]?.name === name) this.refuseRunning(container, 'disconnect', `${dockerNameOf(net)} is its first network (eth0, with its published ports)`);
    const networks = (spec.networks ?? []).filter((n) => n.name !== name);
    await this.changeNetworks(container, networks.length ? networks : null, name, false);
  }

  /** Writes spec.networks; for a running container, waits until the node reports the network joined or left. */
  private async changeNetworks(container: KObject, networks: CtrSpec['networks'] | null, name: string, joined: boolean): Promise<void> {
    const running = isLive(container);
    const obj = await this.engine.containers.patch(this.ns, container.metadata.name, { spec: { networks } }, { type: 'merge' });
    if (!running) return;
    const gen = obj.metadata.generation ?? 0;
    await watchUntil(
      this.engine.containers,
      this.ns,
      obj.metadata.name,
      (o) => {
        if (!o) throw notFound(`No such container: ${dockerNameOf(container)}`);
        const st = (o.status ?? {}) as CtrStatus & { observedGeneration?: number; reason?: string; message?: string };
        if ((st.observedGeneration ?? 0) < gen) return undefined;
        if (st.reason === 'NetworkError') throw new DockerError(st.message ?? `the node could not ${joined ? 'connect' : 'disconnect'} network ${name}`, 400);
        if (!isLive(o)) return true; // stopped meanwhile: its next start attaches what the spec says
        return (st.networks ?? []).some((n) => n.name === name) === joined ? true : undefined;
      },
      { timeoutMs: this.engine.o.nodeTimeoutMs ?? 120_000, what: `network ${joined ? 'connect' : 'disconnect'} of ${dockerNameOf(container)}`, from: obj },
    );
  }

  private refuseRunning(c: KObject, verb: string, why: string): void {
    if (isLive(c)) throw conflict(`cannot ${verb} running container ${dockerNameOf(c)}: ${why}, which needs a new container; stop it first`);
  }
}
