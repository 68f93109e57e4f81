/**
 * The node agent (Berth's kubelet): registers the Node, watches the Containers, Volumes and Images
 * bound to it through informers of the API client, and drives the runtime core towards them with
 * level-triggered reconcilers on the controller runner (rate-limited queues, backoff, resync,
 * metrics). It never touches the store: everything goes through the API.
 */
import type { ContainerSpec } from '../api/container.js';
import type { ApiClient } from '../client/api-client.js';
import { Controller } from '../client/controller.js';
import { InformerFactory, keyOf, type Informer } from '../client/informer.js';
import { berthResources, type BerthResources } from '../client/kinds.js';
import type { Distribution, Runtime } from '../runtime/index.js';
import { ContainerReconciler } from './container-reconciler.js';
import { AgentEndpoint } from './endpoint.js';
import type { AgentTlsCredentials } from '../api/agent-tls.js';
import { EventRecorder } from './events.js';
import { ExitWatcher } from './exit-watcher.js';
import { ImageReconciler } from './image-reconciler.js';
import { agentMetrics, type AgentMetrics, type ContainerSample } from './metrics.js';
import { DEFAULT_NETWORK, LABEL_NAME, LABEL_NAMESPACE, LABEL_UID, objectKey } from './names.js';
import { NetworkReconciler, type NetworkOptions } from './network-reconciler.js';
import { NodeRegistration } from './node-registration.js';
import { VolumeReconciler } from './volume-reconciler.js';
import { logFn, type LogFn } from '../util/log.js';

export interface AgentOptions {
  client: ApiClient;
  runtime: Runtime;
  /** Registry client for Images with source.pull; without it pulls report PullNotConfigured. */
  distribution?: Distribution;
  nodeName: string;
  /** The endpoint's certificate and key from Berth's CA, and the CA (node-certificate.ts). */
  endpointTls: AgentTlsCredentials;
  endpointHost?: string;
  endpointPort?: number;
  heartbeatMs?: number;
  resyncMs?: number;
  /** Workers for the container queue. */
  concurrency?: number;
  /** The default network, the pool of user networks and the embedded DNS's upstreams. */
  network?: NetworkOptions;
  log?: LogFn;
}

const BACKOFF = { baseMs: 500, maxMs: 300_000 };

export class Agent {
  readonly metrics: AgentMetrics = agentMetrics();
  readonly endpoint: AgentEndpoint;
  private readonly api: BerthResources;
  private readonly informers: InformerFactory;
  private readonly containerInformer: Informer;
  private readonly volumeInformer: Informer;
  private readonly imageInformer: Informer;
  private readonly networkInformer: Informer;
  private readonly controllers: { containers: Controller; volumes: Controller; images: Controller; networks: Controller };
  private readonly exits: ExitWatcher;
  private readonly node: NodeRegistration;
  private readonly containersR: ContainerReconciler;
  private readonly volumesR: VolumeReconciler;
  private readonly imagesR: ImageReconciler;
  private readonly networksR: NetworkReconciler;
  private orphanScan: NodeJS.Timeout | undefined;
  private readonly log: LogFn;
  private readonly events: EventRecorder;

  constructor(private readonly o: AgentOptions) {
    this.log = o.log ?? logFn('agent');
    const { runtime, nodeName } = o;
    const api = (this.api = berthResources(o.client));
    const fieldSelector = `spec.nodeName=${nodeName}`;
    this.informers = new InformerFactory(this.log);
    this.containerInformer = this.informers.for(api.containers, { fieldSelector }) as unknown as Informer;
    this.volumeInformer = this.informers.for(api.volumes, { fieldSelector }) as unknown as Informer;
    this.imageInformer = this.informers.for(api.images, { fieldSelector }) as unknown as Informer;
    // Networks are not bound to a node: every agent sets up those its containers join
    this.networkInformer = this.informers.for(api.networks, {}) as unknown as Informer;
    const resyncMs = o.resyncMs ?? 30_000;
    const log = this.log;
    this.controllers = {
      containers: new Controller({ name: 'agent_containers', reconcile: (k) => this.containersR.reconcile(k), concurrency: o.concurrency ?? 4, backoff: BACKOFF, resyncMs, log }),
      volumes: new Controller({ name: 'agent_volumes', reconcile: (k) => this.volumesR.reconcile(k), concurrency: 2, backoff: BACKOFF, resyncMs, log }),
      images: new Controller({ name: 'agent_images', reconcile: (k) => this.imagesR.reconcile(k), concurrency: 2, backoff: BACKOFF, resyncMs, log }),
      networks: new Controller({ name: 'agent_networks', reconcile: (k) => this.networksR.reconcile(k), concurrency: 1, backoff: BACKOFF, resyncMs, log }),
    };
    const events = (this.events = new EventRecorder(api, 'agent', nodeName));
    this.exits = new ExitWatcher(runtime, (key) => this.controllers.containers.enqueue(key));
    this.endpoint = new AgentEndpoint({ runtime, ...(o.distribution ? { distribution: o.distribution } : {}), tls: o.endpointTls, host: o.endpointHost, port: o.endpointPort });
    this.node = new NodeRegistration(api, nodeName, () => this.endpoint.url || undefined, o.heartbeatMs ?? 10_000, () => this.nodeNetworks());
    this.networksR = new NetworkReconciler({ client: api, runtime, nodeName, networks: this.networkInformer, events, options: o.network ?? {}, log });
    this.containersR = new ContainerReconciler({
      client: api,
      runtime,
      nodeName,
      networks: this.networksR,
      containers: this.containerInformer,
      events,
      metrics: this.metrics,
      onReleased: (ns) => {
        for (const v of this.volumeInformer.list(ns)) this.controllers.volumes.enqueue(objectKey(ns, v.metadata.name));
      },
    });
    this.volumesR = new VolumeReconciler({ client: api, runtime, nodeName, volumes: this.volumeInformer, containers: this.containerInformer, events });
    this.imagesR = new ImageReconciler({
      client: api,
      runtime,
      ...(o.distribution ? { distribution: o.distribution } : {}),
      nodeName,
      images: this.imageInformer,
      events,
      onPresent: () => {
        for (const c of this.containerInformer.list()) {
          const phase = (c.status as { phase?: string } | undefined)?.phase;
          if (phase === undefined || phase === 'Pending') this.controllers.containers.enqueue(keyOf(c));
        }
      },
    });
    this.metrics.bind({
      phases: () => this.phases(),
      samples: () => this.samples(),
      dnsRecords: () => {
        const out = new Map<string, number>();
        for (const r of runtime.networks.dnsEntries()) out.set(r.network, (out.get(r.network) ?? 0) + 1);
        return out;
      },
    });
  }

  async start(): Promise<void> {
    // what a Berth process killed at any point left in the runtime root goes before anything is reconciled
    const runtime = this.o.runtime;
    const recovered = await runtime.recover();
    const n = Object.entries(recovered).filter(([, v]) => v.length > 0);
    if (n.length) this.log(`crash sweep: removed ${n.map(([k, v]) => `${v.length} ${k}`).join(', ')}`);
    await this.endpoint.start();
    await this.node.register();
    this.node.start();
    await this.informers.start();
    // what a killed agent left half-made on the node (attachments, namespaces, leases, port rules) goes first
    const swept = await runtime.sweepNetworks();
    if (swept.length > 0) this.log(`network: removed what no container owns: ${swept.join(', ')}`);
    await this.networksR.start();
    // What changed while no agent ran (exits, orphans) is queued first; the handlers registered next
    // queue everything else, so a restarted agent corrects the stale statuses soonest.
    await this.enqueueChanged();
    const c = this.controllers;
    // the watch event of the agent's own status write needs no reconcile
    c.containers.watch(this.containerInformer, { predicate: (ev, obj) => ev !== 'update' || !this.containersR.isOwnStatusEcho(keyOf(obj), obj) });
    // a container coming or going changes who uses a volume
    c.volumes.watch(this.containerInformer, {
      resync: false,
      map: (ctr) => ((ctr.spec as ContainerSpec | undefined)?.volumeMounts ?? []).filter((m) => m.name).map((m) => objectKey(ctr.metadata.namespace, m.name!)),
    });
    c.volumes.watch(this.volumeInformer);
    c.images.watch(this.imageInformer);
    c.networks.watch(this.networkInformer);
    // a container joining or leaving changes a network's users (and may let a deletion finish)
    c.networks.watch(this.containerInformer, {
      resync: false,
      map: (ctr) => ((ctr.spec as ContainerSpec | undefined)?.networks ?? []).map((n) => objectKey(ctr.metadata.namespace, n.name)),
    });
    for (const k of await this.networksR.runtimeKeys()) c.networks.enqueue(k);
    this.exits.start();
    await Promise.all([c.images.start(), c.volumes.start(), c.networks.start(), c.containers.start()]);
    // runtime containers whose object is gone (or another object holds the name) are reconciled away
    this.orphanScan = setInterval(() => void this.enqueueOrphans().catch(() => undefined), this.o.resyncMs ?? 30_000);
    this.orphanScan.unref();
  }

  /** Runtime containers this agent made (labelled with their object). */
  private ownContainers() {
    return this.o.runtime.containers.list({ all: true, labels: { [LABEL_UID]: true, [LABEL_NAMESPACE]: true, [LABEL_NAME]: true } });
  }

  /** Runtime containers that exited, or whose object is gone or replaced, while no agent watched. */
  private async enqueueChanged(): Promise<void> {
    for (const c of await this.ownContainers()) {
      const ns = c.labels[LABEL_NAMESPACE] as string;
      const name = c.labels[LABEL_NAME] as string;
      const obj = this.containerInformer.get(ns, name);
      const phase = (obj?.status as { phase?: string } | undefined)?.phase;
      const exited = c.status === 'exited' && (phase === 'Running' || phase === 'Paused');
      if (!obj || obj.metadata.uid !== c.labels[LABEL_UID] || exited) this.controllers.containers.enqueue(objectKey(ns, name));
    }
  }

  /** Runtime containers whose object is gone (or another object now holds the name) get reconciled away. */
  private async enqueueOrphans(): Promise<void> {
    for (const c of await this.ownContainers()) this.controllers.containers.enqueue(objectKey(c.labels[LABEL_NAMESPACE] as string, c.labels[LABEL_NAME] as string));
  }

  private phases(): Map<string, number> {
    const out = new Map<string, number>();
    for (const c of this.containerInformer.list()) {
      const phase = (c.status as { phase?: string } | undefined)?.phase ?? 'Pending';
      out.set(phase, (out.get(phase) ?? 0) + 1);
    }
    return out;
  }

  /** Node status networks: the default one first, then the Networks set up here. */
  private async nodeNetworks(): Promise<Array<Record<string, unknown>>> {
    const list = await this.o.runtime.networks.list();
    list.sort((a, b) => (a.name === DEFAULT_NETWORK ? -1 : b.name === DEFAULT_NETWORK ? 1 : a.name.localeCompare(b.name)));
    return list.map((n) => ({
      name: n.name === DEFAULT_NETWORK ? DEFAULT_NETWORK : `${n.labels['berth.dev/namespace'] ?? ''}/${n.labels['berth.dev/name'] ?? n.name}`,
      bridge: n.bridge,
      subnet: n.subnet,
      gateway: n.gateway,
      containers: n.containers.length,
    }));
  }

  private async samples(): Promise<ContainerSample[]> {
    const out: ContainerSample[] = [];
    const attached = new Set((await this.o.runtime.networks.attachments()).map((a) => a.containerId));
    for (const c of await this.o.runtime.containers.list({ labels: { [LABEL_UID]: true } })) {
      try {
        const st = await this.o.runtime.tasks.stats(c.id);
        const network = attached.has(c.id) && c.pid > 0 ? await this.o.runtime.networks.counters(c.pid).catch(() => []) : [];
        out.push({
          network,
          namespace: c.labels[LABEL_NAMESPACE] ?? '',
          name: c.labels[LABEL_NAME] ?? c.name,
          id: c.id,
          cpuSeconds: st.cpuSeconds,
          workingSetBytes: st.memoryUsageBytes,
          pids: st.pids,
        });
      } catch {
        // the container exited between the listing and the read
      }
    }
    return out;
  }

  async stop(): Promise<void> {
    if (this.orphanScan) clearInterval(this.orphanScan);
    this.node.stop();
    this.exits.stop();
    this.informers.stop();
    await Promise.all([this.controllers.containers.stop(), this.controllers.volumes.stop(), this.controllers.images.stop(), this.controllers.networks.stop()]);
    await this.endpoint.stop();
    // events still queued go out, unless the API server is gone too
    await Promise.race([this.events.flush(), new Promise((r) => setTimeout(r, 2000).unref())]);
  }
}

