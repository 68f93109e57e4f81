/**
 * The node agent (Berth's kubelet): registers the Node, watches the Containers, Volumes and Images
 * bound to it through @kubernetes/client-node informers, and drives the runtime core towards them
 * with level-triggered reconcilers behind rate-limited work queues. It never touches the store.
 */
import type { ContainerSpec } from '../api/container.js';
import { resourceInformer, type ResourceInformer } from '../client/informer.js';
import type { KObject, KubeClient } from '../client/kube.js';
import { WorkQueue, type HandlerResult } from '../client/workqueue.js';
import type { Distribution, Runtime } from '../runtime/index.js';
import { ContainerReconciler, RetryLater } from './container-reconciler.js';
import { AgentEndpoint } from './endpoint.js';
import { EventRecorder } from './events.js';
import { ExitWatcher } from './exit-watcher.js';
import { ImageReconciler } from './image-reconciler.js';
import { agentMetrics, type AgentMetrics, type ContainerSample } from './metrics.js';
import { LABEL_NAME, LABEL_NAMESPACE, LABEL_UID, objectKey } from './names.js';
import { NodeRegistration } from './node-registration.js';
import { VolumeReconciler } from './volume-reconciler.js';

export interface AgentOptions {
  client: KubeClient;
  runtime: Runtime;
  /** Registry client for Images with source.pull; without it pulls report PullNotConfigured. */
  distribution?: Distribution;
  nodeName: string;
  /** Bearer token the agent endpoint requires (the API server's proxy sends it). */
  endpointToken: string;
  endpointHost?: string;
  endpointPort?: number;
  heartbeatMs?: number;
  resyncMs?: number;
  /** Workers for the container queue. */
  concurrency?: number;
  log?: (msg: string) => void;
}

export class Agent {
  readonly metrics: AgentMetrics = agentMetrics();
  readonly endpoint: AgentEndpoint;
  private readonly containerInformer: ResourceInformer;
  private readonly volumeInformer: ResourceInformer;
  private readonly imageInformer: ResourceInformer;
  private readonly queues: { containers: WorkQueue; volumes: WorkQueue; images: WorkQueue };
  private readonly exits: ExitWatcher;
  private readonly node: NodeRegistration;
  private readonly containersR: ContainerReconciler;
  private readonly volumesR: VolumeReconciler;
  private readonly imagesR: ImageReconciler;
  private resync: NodeJS.Timeout | undefined;
  private readonly log: (msg: string) => void;
  private readonly events: EventRecorder;

  constructor(private readonly o: AgentOptions) {
    this.log = o.log ?? ((m) => console.error(`agent: ${m}`));
    const { client, runtime, nodeName } = o;
    const fieldSelector = `spec.nodeName=${nodeName}`;
    const onError = (err: unknown) => this.log(`watch error: ${(err as Error).message ?? String(err)}`);
    this.containerInformer = resourceInformer(client, 'containers', { fieldSelector, onError });
    this.volumeInformer = resourceInformer(client, 'volumes', { fieldSelector, onError });
    this.imageInformer = resourceInformer(client, 'images', { fieldSelector, onError });
    const backoff = { baseMs: 500, maxMs: 300_000 };
    this.queues = {
      containers: new WorkQueue('agent_containers', backoff),
      volumes: new WorkQueue('agent_volumes', backoff),
      images: new WorkQueue('agent_images', backoff),
    };
    const events = (this.events = new EventRecorder(client, 'agent', nodeName));
    this.exits = new ExitWatcher(runtime, (key) => this.queues.containers.add(key));
    this.endpoint = new AgentEndpoint({ runtime, ...(o.distribution ? { distribution: o.distribution } : {}), token: o.endpointToken, host: o.endpointHost, port: o.endpointPort });
    this.node = new NodeRegistration(client, nodeName, () => this.endpoint.url || undefined, o.heartbeatMs ?? 10_000);
    this.containersR = new ContainerReconciler({
      client,
      runtime,
      nodeName,
      containers: this.containerInformer,
      events,
      metrics: this.metrics,
      onReleased: (ns) => {
        for (const v of this.volumeInformer.list(ns)) this.queues.volumes.add(objectKey(ns, v.metadata.name));
      },
    });
    this.volumesR = new VolumeReconciler({ client, runtime, nodeName, volumes: this.volumeInformer, containers: this.containerInformer, events });
    this.imagesR = new ImageReconciler({
      client,
      runtime,
      ...(o.distribution ? { distribution: o.distribution } : {}),
      nodeName,
      images: this.imageInformer,
      events,
      onPresent: () => {
        for (const c of this.containerInformer.list()) {
          const phase = (c.status as { phase?: string } | undefined)?.phase;
          if (phase === undefined || phase === 'Pending') this.queues.containers.add(keyOf(c));
        }
      },
    });
    this.metrics.bind({ phases: () => this.phases(), samples: () => this.samples() });
  }

  async start(): Promise<void> {
    await this.endpoint.start();
    await this.node.register();
    this.node.start();
    await Promise.all([this.containerInformer.start(), this.volumeInformer.start(), this.imageInformer.start()]);
    // Handlers go on after the first list: what changed while no agent ran (exits, orphans) is
    // queued first, then everything else, so a restarted agent corrects the stale statuses soonest.
    await this.enqueueChanged();
    const wire = (inf: ResourceInformer, q: WorkQueue, extra?: (o: KObject) => void, isEcho?: (key: string, o: KObject) => boolean) => {
      for (const verb of ['add', 'update', 'delete'] as const) {
        inf.on(verb, (obj) => {
          if (verb === 'update' && isEcho?.(keyOf(obj), obj)) return;
          q.add(keyOf(obj));
          extra?.(obj);
        });
      }
    };
    // A container coming or going changes who uses a volume.
    const containerEcho = (key: string, c: KObject): boolean => this.containersR.isOwnStatusEcho(key, c);
    wire(this.containerInformer, this.queues.containers, (c) => {
      for (const m of (c.spec as ContainerSpec | undefined)?.volumeMounts ?? []) {
        if (m.name) this.queues.volumes.add(objectKey(c.metadata.namespace, m.name));
      }
    }, containerEcho);
    wire(this.volumeInformer, this.queues.volumes);
    wire(this.imageInformer, this.queues.images);
    this.resyncAll();
    this.exits.start();
    this.queues.images.run(2, this.instrument('Image', (k) => this.imagesR.reconcile(k)), this.onError('Image'));
    this.queues.volumes.run(2, this.instrument('Volume', (k) => this.volumesR.reconcile(k)), this.onError('Volume'));
    this.queues.containers.run(this.o.concurrency ?? 4, this.instrument('Container', (k) => this.containersR.reconcile(k)), this.onError('Container'));
    this.resync = setInterval(() => this.resyncAll(), this.o.resyncMs ?? 30_000);
    this.resync.unref();
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
      const obj = this.containerInformer.get(name, ns);
      const phase = (obj?.status as { phase?: string } | undefined)?.phase;
      const exited = c.status === 'exited' && (phase === 'Running' || phase === 'Paused');
      if (!obj || obj.metadata.uid !== c.labels[LABEL_UID] || exited) this.queues.containers.add(objectKey(ns, name));
    }
  }

  /** Runtime containers whose object is gone (or another object now holds the name) get reconciled away. */
  private async enqueueOrphans(): Promise<void> {
    for (const c of await this.ownContainers()) this.queues.containers.add(objectKey(c.labels[LABEL_NAMESPACE] as string, c.labels[LABEL_NAME] as string));
  }

  private resyncAll(): void {
    for (const c of this.containerInformer.list()) this.queues.containers.add(keyOf(c));
    for (const v of this.volumeInformer.list()) this.queues.volumes.add(keyOf(v));
    for (const i of this.imageInformer.list()) this.queues.images.add(keyOf(i));
    void this.enqueueOrphans().catch(() => undefined);
  }

  private instrument(kind: string, fn: (key: string) => Promise<HandlerResult | void>) {
    return async (key: string): Promise<HandlerResult | void> => {
      const end = this.metrics.reconcileDuration.startTimer({ kind });
      let result = 'error';
      try {
        const r = await fn(key);
        result = r?.requeueAfterMs !== undefined ? 'requeue' : 'success';
        return r;
      } finally {
        const took = end({ result });
        if (process.env.BERTH_AGENT_DEBUG && took > 0.1) this.log(`DEBUG ${kind} ${key} ${result} took ${took.toFixed(3)}s`);
        this.metrics.reconciles.inc({ kind, result });
      }
    };
  }

  private onError(kind: string) {
    return (key: string, err: unknown) => {
      if (err instanceof RetryLater) return;
      this.log(`${kind} ${key}: ${(err as Error).message ?? String(err)}`);
    };
  }

  private phases(): Map<string, number> {
    const out = new Map<string, number>();
    for (const c of this.containerInformer.list()) {
      const phase = (c.status as { phase?: string } | undefined)?.phase ?? 'Pending';
      out.set(phase, (out.get(phase) ?? 0) + 1);
    }
    return out;
  }

  private async samples(): Promise<ContainerSample[]> {
    const out: ContainerSample[] = [];
    for (const c of await this.o.runtime.containers.list({ labels: { [LABEL_UID]: true } })) {
      try {
        const st = await this.o.runtime.tasks.stats(c.id);
        out.push({
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
    if (this.resync) clearInterval(this.resync);
    this.node.stop();
    this.exits.stop();
    await Promise.all([this.containerInformer.stop(), this.volumeInformer.stop(), this.imageInformer.stop()]);
    await Promise.all([this.queues.containers.shutdown(), this.queues.volumes.shutdown(), this.queues.images.shutdown()]);
    await this.endpoint.stop();
    // events still queued go out, unless the API server is gone too
    await Promise.race([this.events.flush(), new Promise((r) => setTimeout(r, 2000).unref())]);
  }
}

function keyOf(o: KObject): string {
  return objectKey(o.metadata.namespace, o.metadata.name);
}
