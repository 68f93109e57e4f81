/**
 * Networks on this node: the default network (Docker's `bridge`, made by the agent from its
 * configuration) and the Network objects (user networks). The reconciler picks a subnet for a
 * Network that names none, decides overlaps between Networks (the older one keeps its subnet, the
 * newer is not Ready: only the agents see every Network and their node's routes, so this is where
 * it is decided), defines the network in the runtime, reports it in status, and on deletion waits
 * until no container uses it before it takes the bridge down and drops the finalizer. It also turns
 * a Container's network fields into the runtime's create options.
 */
import type { ContainerSpec } from '../api/container.js';
import type { NetworkSpec, NetworkStatus } from '../api/network.js';
import { isNotFound, type KObject } from '../client/api-client.js';
import type { ReconcileResult as HandlerResult } from '../client/controller.js';
import type { Informer } from '../client/informer.js';
import type { BerthResources } from '../client/kinds.js';
import { RuntimeError, type CreateOptions, type ResolvedNetwork, type Runtime, type Upstream } from '../runtime/index.js';
import { overlaps, parseCidr } from '../util/ipv4.js';
import { SpecError } from './container-options.js';
import type { EventRecorder } from './events.js';
import { DEFAULT_NETWORK, NETWORK_FINALIZER, objectKey, runtimeContainerName, runtimeNetworkName, splitKey } from './names.js';
import { condition, setFinalizer, writeStatus } from './status.js';

export interface NetworkOptions {
  /** Subnet of the default network; else one picked from `defaultPool`. */
  defaultSubnet?: string;
  /** Where the default network's subnet is picked (default 172.17.0.0/16, in /`defaultPrefix` blocks, default 16). */
  defaultPool?: string;
  defaultPrefix?: number;
  /** Bridge of the default network; else berth0 (berth1... when another Berth runtime of the host holds it). */
  defaultBridge?: string;
  /** The default network has no way out of the node (tests). */
  defaultInternal?: boolean;
  /** Where Networks without a subnet get a /24 (default 10.89.0.0/16). */
  userPool?: string;
  /** Upstream resolvers of the embedded DNS; the node's resolv.conf when omitted, [] for none. */
  dnsUpstreams?: Upstream[];
}

export interface NetworkReconcilerDeps {
  client: BerthResources;
  runtime: Runtime;
  nodeName: string;
  networks: Informer;
  events: EventRecorder;
  options: NetworkOptions;
  log(msg: string): void;
}

const PLURAL = 'networks' as const;
const LABEL_NS = 'berth.dev/namespace';
const LABEL_NAME = 'berth.dev/name';
const LABEL_UID = 'berth.dev/uid';

type NetworkObject = KObject & { spec?: NetworkSpec; status?: NetworkStatus };

/** A runtime message "subnet: ..." as the API field that caused it. */
function fieldMessage(m: string): string {
  return m.replace(/^bridge:/, 'spec.bridgeName:').replace(/^(subnet|gateway|ipRange):/, 'spec.$1:');
}

export class NetworkReconciler {
  private defaultNet: ResolvedNetwork | undefined;
  private defaultProblem: string | undefined;

  constructor(private readonly d: NetworkReconcilerDeps) {}

  /** At agent start: the DNS responder and the default network. */
  async start(): Promise<void> {
    await this.d.runtime.networks.start(this.d.options.dnsUpstreams ? { dnsUpstreams: this.d.options.dnsUpstreams } : {});
    await this.ensureDefault();
  }

  /** Makes (or keeps) the default network; what went wrong is what bridge containers are told. */
  private async ensureDefault(): Promise<void> {
    const o = this.d.options;
    const existing = await this.d.runtime.networks.get(DEFAULT_NETWORK);
    const tried: string[] = [];
    for (let attempt = 0; attempt < 10; attempt++) {
      const bridge = o.defaultBridge ?? (existing && attempt === 0 ? existing.bridge : `berth${attempt}`);
      const subnet = o.defaultSubnet ?? (existing && attempt === 0 ? existing.subnet : await this.d.runtime.networks.freeSubnet(o.defaultPool ?? '172.17.0.0/16', o.defaultPrefix ?? 16, tried));
      if (!subnet) {
        this.defaultProblem = `no free subnet left in ${o.defaultPool ?? '172.17.0.0/16'} for the default network; set one with --default-subnet`;
        break;
      }
      try {
        this.defaultNet = await this.d.runtime.networks.define({ name: DEFAULT_NETWORK, bridge, subnet, internal: o.defaultInternal ?? false, dnsNames: false, labels: {} });
        this.defaultProblem = undefined;
        return;
      } catch (e) {
        const msg = (e as Error).message;
        this.defaultProblem = msg;
        const retry = (msg.startsWith('subnet:') && !o.defaultSubnet) || (msg.startsWith('bridge:') && !o.defaultBridge);
        if (!retry) break;
        if (msg.startsWith('subnet:')) tried.push(subnet);
      }
    }
    this.d.log(`the default network could not be set up: ${this.defaultProblem}`);
  }

  defaultNetwork(): ResolvedNetwork | undefined {
    return this.defaultNet;
  }

  /** Subnet a Network uses: its spec's, else the one an agent picked and reported. */
  private subnetOf(n: NetworkObject): string | undefined {
    return n.spec?.subnet ?? n.status?.subnet;
  }

  private bridgeOf(n: NetworkObject): string {
    return n.spec?.bridgeName ?? `br-${(n.metadata.uid ?? '').replace(/-/g, '').slice(0, 12)}`;
  }

  /** Why a Network cannot be set up next to the others (an older one keeps what they share), or undefined. */
  private clash(n: NetworkObject, subnet: string): string | undefined {
    const mine = parseCidr(subnet);
    if (!mine) return `spec.subnet: ${subnet} is not a CIDR block`;
    if (this.defaultNet && overlaps(mine, parseCidr(this.defaultNet.subnet)!)) return `spec.subnet: ${subnet} overlaps the node's default network (${this.defaultNet.subnet})`;
    const key = (o: KObject) => `${o.metadata.creationTimestamp ?? ''} ${o.metadata.namespace}/${o.metadata.name}`;
    for (const other of this.d.networks.list() as NetworkObject[]) {
      if (other.metadata.uid === n.metadata.uid || other.metadata.deletionTimestamp) continue;
      if (key(other) > key(n)) continue;
      const theirs = this.subnetOf(other);
      const c = theirs ? parseCidr(theirs) : undefined;
      if (c && overlaps(mine, c)) return `spec.subnet: ${subnet} overlaps Network ${other.metadata.namespace}/${other.metadata.name} (${theirs})`;
      if (this.bridgeOf(other) === this.bridgeOf(n)) return `spec.bridgeName: ${this.bridgeOf(n)} is the bridge of Network ${other.metadata.namespace}/${other.metadata.name}`;
    }
    return undefined;
  }

  async reconcile(key: string): Promise<HandlerResult | void> {
    const { namespace, name } = splitKey(key);
    const rtName = runtimeNetworkName(namespace, name);
    const obj = this.d.networks.get(namespace, name) as NetworkObject | undefined;
    const nets = this.d.runtime.networks;
    if (!obj) {
      // gone while this agent did not watch (or from another node's point of view): take its bridge down here
      if (await nets.get(rtName)) return this.removeLocal(rtName);
      return;
    }
    if (obj.metadata.deletionTimestamp) {
      const users = await this.users(namespace, name);
      if (users.length > 0) {
        await this.setStatus(obj, { type: 'Ready', status: 'False', reason: 'InUse', message: `deletion waits for the containers that use it: ${users.join(', ')}` });
        return { requeueAfterMs: 2000 };
      }
      if (await nets.get(rtName)) {
        const r = await this.removeLocal(rtName);
        if (r) return r;
      }
      await setFinalizer(this.d.client[PLURAL], obj, NETWORK_FINALIZER, false);
      return;
    }
    let subnet = this.subnetOf(obj);
    if (!subnet) {
      const taken = (this.d.networks.list() as NetworkObject[]).map((n) => this.subnetOf(n)).filter((s): s is string => !!s);
      subnet = await nets.freeSubnet(this.d.options.userPool ?? '10.89.0.0/16', 24, taken);
      if (!subnet) return this.setStatus(obj, { type: 'Ready', status: 'False', reason: 'NoFreeSubnet', message: `spec.subnet: no free /24 left in ${this.d.options.userPool ?? '10.89.0.0/16'}; set spec.subnet` });
    }
    const r = await this.defineLocal(obj, subnet);
    if ('problem' in r) {
      await this.setStatus(obj, { type: 'Ready', status: 'False', ...r.problem }, { subnet });
      return r.problem.reason === 'SetupFailed' ? { requeueAfterMs: 30_000 } : undefined;
    }
    const info = (await nets.list()).find((n) => n.name === rtName);
    await this.setStatus(obj, { type: 'Ready', status: 'True', reason: 'Defined' }, { subnet: r.def.subnet, gateway: r.def.gateway, bridge: r.def.bridge, containers: info?.containers.length ?? 0 });
    return undefined;
  }

  /** Checks a Network against the others and defines it in the runtime (idempotent), or says why not. */
  private async defineLocal(obj: NetworkObject, subnet: string): Promise<{ def: ResolvedNetwork } | { problem: { reason: string; message: string } }> {
    const { namespace, name } = { namespace: obj.metadata.namespace ?? 'default', name: obj.metadata.name };
    const problem = this.clash(obj, subnet);
    if (problem) return { problem: { reason: problem.startsWith('spec.bridgeName') ? 'BridgeConflict' : 'SubnetOverlap', message: problem } };
    try {
      const def = await this.d.runtime.networks.define({
        name: runtimeNetworkName(namespace, name),
        bridge: this.bridgeOf(obj),
        subnet,
        ...(obj.spec?.gateway ? { gateway: obj.spec.gateway } : {}),
        ...(obj.spec?.ipRange ? { ipRange: obj.spec.ipRange } : {}),
        internal: obj.spec?.internal ?? false,
        isolated: obj.spec?.isolated ?? true,
        dnsNames: true,
        labels: { [LABEL_NS]: namespace, [LABEL_NAME]: name, [LABEL_UID]: obj.metadata.uid ?? '' },
      });
      return { def };
    } catch (e) {
      if (!(e instanceof RuntimeError)) throw e;
      return { problem: { reason: e.code === 'Conflict' && /overlaps/.test(e.message) ? 'SubnetOverlap' : 'SetupFailed', message: fieldMessage(e.message) } };
    }
  }

  /** Names of the Containers (any node) that name this network. */
  private async users(namespace: string, name: string): Promise<string[]> {
    const list = await this.d.client.containers.listAll({ namespace });
    return list.items
      .filter((c) => ((c.spec as ContainerSpec | undefined)?.networks ?? []).some((n) => n.name === name))
      .map((c) => c.metadata.name)
      .sort();
  }

  private async removeLocal(rtName: string): Promise<HandlerResult | void> {
    try {
      await this.d.runtime.networks.remove(rtName);
    } catch (e) {
      // containers of it are still being taken down on this node
      if (e instanceof RuntimeError && e.code === 'Conflict') return { requeueAfterMs: 2000 };
      if (!(e instanceof RuntimeError && e.code === 'NotFound')) throw e;
    }
    return undefined;
  }

  private async setStatus(obj: NetworkObject, ready: { type: 'Ready'; status: 'True' | 'False'; reason: string; message?: string }, fields: Partial<NetworkStatus> = {}): Promise<void> {
    await setFinalizer(this.d.client[PLURAL], obj, NETWORK_FINALIZER, !obj.metadata.deletionTimestamp).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
    const prev = obj.status ?? {};
    const status: NetworkStatus = {
      ...(fields.subnet ?? prev.subnet ? { subnet: fields.subnet ?? prev.subnet } : {}),
      ...(fields.gateway ? { gateway: fields.gateway } : {}),
      ...(fields.bridge ? { bridge: fields.bridge } : {}),
      ...(fields.containers !== undefined ? { containers: fields.containers } : {}),
      conditions: [condition(prev.conditions, ready)],
      ...(obj.metadata.generation !== undefined ? { observedGeneration: obj.metadata.generation } : {}),
    };
    if (ready.status === 'False' && prev.conditions?.find((c) => c.type === 'Ready')?.reason !== ready.reason) this.d.events.record(obj, 'Warning', ready.reason, ready.message ?? ready.reason);
    await writeStatus(this.d.client[PLURAL], obj, status as Record<string, unknown>);
  }

  /** Keys of the runtime's networks that came from Network objects (a restarted agent checks them all). */
  async runtimeKeys(): Promise<string[]> {
    return (await this.d.runtime.networks.list()).filter((n) => n.labels[LABEL_NS] && n.labels[LABEL_NAME]).map((n) => objectKey(n.labels[LABEL_NS], n.labels[LABEL_NAME]!));
  }

  /**
   * The network part of a Container's create options: the default network, or its spec.networks as
   * defined on this node. A missing or not-Ready Network is a SpecError naming the field.
   */
  async createOptions(obj: KObject): Promise<Pick<CreateOptions, 'network' | 'networkContainer' | 'networks' | 'ports'>> {
    const spec = obj.spec as unknown as ContainerSpec;
    const ns = obj.metadata.namespace ?? 'default';
    const mode = spec.network ?? 'bridge';
    if (mode === 'none' || mode === 'host') return { network: mode };
    if (mode.startsWith('container:')) return { network: 'container', networkContainer: runtimeContainerName(ns, mode.slice('container:'.length)) };
    const aliases = (extra: string[] = []) => [obj.metadata.name, ...extra];
    const ports = (spec.ports ?? [])
      .filter((p) => p.hostPort !== undefined)
      .map((p) => ({ containerPort: p.containerPort, hostPort: p.hostPort!, protocol: (p.protocol ?? 'TCP').toLowerCase() as 'tcp' | 'udp', ...(p.hostIP ? { hostIP: p.hostIP } : {}) }));
    if (!spec.networks || spec.networks.length === 0) {
      if (!this.defaultNet) throw new SpecError(`spec.network: the default network of node ${this.d.nodeName} is not available: ${this.defaultProblem ?? 'not set up yet'}`);
      return { network: 'bridge', networks: [{ name: DEFAULT_NETWORK, aliases: aliases() }], ports };
    }
    const networks: NonNullable<CreateOptions['networks']> = [];
    for (const [i, n] of spec.networks.entries()) {
      const net = this.d.networks.get(ns, n.name) as NetworkObject | undefined;
      if (!net || net.metadata.deletionTimestamp) throw new SpecError(`spec.networks[${i}].name: network "${n.name}" not found in namespace ${ns}`);
      const rtName = runtimeNetworkName(ns, n.name);
      if (!(await this.d.runtime.networks.get(rtName))) {
        // not set up on this node yet: now rather than after the network's own reconcile
        const subnet = this.subnetOf(net);
        const r = subnet ? await this.defineLocal(net, subnet) : { problem: { message: 'it has no subnet yet' } };
        if ('problem' in r) throw new SpecError(`spec.networks[${i}].name: network "${n.name}" is not ready on node ${this.d.nodeName}: ${r.problem.message}`);
      }
      networks.push({ name: rtName, aliases: aliases(n.aliases), ...(n.ipv4Address ? { ipv4Address: n.ipv4Address } : {}) });
    }
    return { network: 'bridge', networks, ports };
  }
}
