/**
 * The scheduler: binds Containers, Volumes and Images without spec.nodeName to a node. A node is
 * eligible when Ready, schedulable, free of NoSchedule taints and matching spec.nodeSelector; a
 * Container mounting a Volume goes to that Volume's node (binding the Volume first when it has
 * none); Containers must fit in the node's allocatable cpu and memory by their requests (limits
 * when no requests); among the rest the node with the fewest containers wins (spread). An Image
 * goes where a container using it runs.
 *
 * One object per reconcile, from the informers' caches; a binding made but not yet seen in the
 * cache is "assumed" (as kube-scheduler assumes pods), so that objects bound one after another
 * spread instead of all landing on the node that looked emptiest a moment ago.
 */
import type { KObject } from '../client/api-client.js';
import { Controller } from '../client/controller.js';
import { keyOf, splitKey, type Informer } from '../client/informer.js';
import { berthResources, parseQuantity, type BerthResources, type ContainerObject, type ImageObject, type NodeObject, type VolumeObject } from '../client/kinds.js';
import type { ControllerContext, RunnableController } from './context.js';

const OPTS = { fieldManager: 'berth-scheduler' };

interface NodeView {
  name: string;
  labels: Record<string, string>;
  cpu: number;
  memory: number;
  usedCpu: number;
  usedMemory: number;
  containers: number;
}

function isReady(node: NodeObject): boolean {
  const conds = (node.status?.conditions as { type: string; status: string }[] | undefined) ?? [];
  return conds.some((c) => c.type === 'Ready' && c.status === 'True');
}

function schedulable(node: NodeObject): boolean {
  const spec = node.spec ?? {};
  if (spec.unschedulable === true) return false;
  const taints = (spec.taints as { effect: string }[] | undefined) ?? [];
  return !taints.some((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute');
}

function matches(selector: unknown, labels: Record<string, string>): boolean {
  if (!selector || typeof selector !== 'object') return true;
  return Object.entries(selector as Record<string, string>).every(([k, v]) => labels[k] === v);
}

const qty = (q: unknown): number => {
  if (typeof q !== 'string' && typeof q !== 'number') return 0;
  try {
    return parseQuantity(q);
  } catch {
    return 0;
  }
};

export function requestsOf(spec: Record<string, unknown> | undefined): { cpu: number; memory: number } {
  const r = (spec?.resources ?? {}) as { requests?: { cpu?: unknown; memory?: unknown }; limits?: { cpu?: unknown; memory?: unknown } };
  return { cpu: qty(r.requests?.cpu ?? r.limits?.cpu), memory: qty(r.requests?.memory ?? r.limits?.memory) };
}

type Kind = 'containers' | 'volumes' | 'images';

export class Scheduler implements RunnableController {
  readonly name = 'scheduler';
  private readonly controller: Controller;
  private readonly r: BerthResources;
  private readonly nodes: Informer<NodeObject>;
  private readonly containers: Informer<ContainerObject>;
  private readonly volumes: Informer<VolumeObject>;
  private readonly images: Informer<ImageObject>;
  /** Bindings made whose watch event has not arrived yet: "kind|ns/name" → node. */
  private readonly assumed = new Map<string, string>();

  constructor(ctx: ControllerContext) {
    this.r = berthResources(ctx.client);
    this.nodes = ctx.informers.for(this.r.nodes);
    this.containers = ctx.informers.for(this.r.containers);
    this.volumes = ctx.informers.for(this.r.volumes);
    this.images = ctx.informers.for(this.r.images);
    this.controller = new Controller({ name: this.name, reconcile: (k) => this.reconcile(k), resyncMs: 30_000, log: ctx.log });
    const unbound = (kind: Kind) => (obj: KObject, event: string) => {
      const key = `${kind}|${keyOf(obj)}`;
      if (event === 'delete' || obj.spec?.nodeName) this.assumed.delete(key);
      return !obj.spec?.nodeName && !obj.metadata.deletionTimestamp && event !== 'delete' ? key : undefined;
    };
    this.controller.watch(this.containers, {
      // a container going away frees room for the ones waiting
      map: (c, event) => (event === 'delete' ? this.waiting() : unbound('containers')(c, event)),
    });
    this.controller.watch(this.volumes, { map: unbound('volumes') });
    this.controller.watch(this.images, { map: unbound('images') });
    // a node that comes, becomes Ready or changes labels may take what waits
    this.controller.watch(this.nodes, { map: () => this.waiting(), resync: false });
  }

  async start(): Promise<void> {
    await this.controller.start();
  }

  async stop(): Promise<void> {
    await this.controller.stop();
  }

  /** Keys of every unbound object. */
  private waiting(): string[] {
    const out: string[] = [];
    const add = <T extends KObject>(kind: Kind, inf: Informer<T>) => {
      for (const o of inf.list()) if (!o.spec?.nodeName && !o.metadata.deletionTimestamp && !this.assumed.has(`${kind}|${keyOf(o)}`)) out.push(`${kind}|${keyOf(o)}`);
    };
    add('volumes', this.volumes);
    add('containers', this.containers);
    add('images', this.images);
    return out;
  }

  private nodeOf(kind: Kind, o: KObject): string | undefined {
    return (o.spec?.nodeName as string | undefined) || this.assumed.get(`${kind}|${keyOf(o)}`);
  }

  private views(): { views: Map<string, NodeView>; eligible: NodeView[]; registered: number } {
    const nodes = this.nodes.list().filter((n) => !n.metadata.deletionTimestamp);
    const views = new Map<string, NodeView>();
    const eligible: NodeView[] = [];
    for (const n of nodes) {
      const alloc = (n.status?.allocatable ?? n.status?.capacity ?? {}) as { cpu?: unknown; memory?: unknown };
      const v: NodeView = { name: n.metadata.name, labels: n.metadata.labels ?? {}, cpu: qty(alloc.cpu) || Infinity, memory: qty(alloc.memory) || Infinity, usedCpu: 0, usedMemory: 0, containers: 0 };
      views.set(v.name, v);
      if (isReady(n) && schedulable(n)) eligible.push(v);
    }
    for (const c of this.containers.list()) {
      if (c.metadata.deletionTimestamp) continue;
      const v = views.get(this.nodeOf('containers', c) ?? '');
      if (!v) continue;
      const req = requestsOf(c.spec);
      v.usedCpu += req.cpu;
      v.usedMemory += req.memory;
      v.containers++;
    }
    eligible.sort((a, b) => a.containers - b.containers || a.name.localeCompare(b.name));
    return { views, eligible, registered: nodes.length };
  }

  private async reconcile(key: string): Promise<void> {
    const bar = key.indexOf('|');
    const kind = key.slice(0, bar) as Kind;
    const { namespace, name } = splitKey(key.slice(bar + 1));
    const inf = ({ containers: this.containers, volumes: this.volumes, images: this.images } as unknown as Record<string, Informer | undefined>)[kind];
    const obj = inf?.get(namespace, name);
    if (!obj || obj.metadata.deletionTimestamp || this.nodeOf(kind, obj)) return;
    const { eligible, registered } = this.views();
    // With no Node registered at all (an API-only server) there is nothing to decide or report.
    if (registered === 0) return;
    if (kind === 'volumes') {
      await this.scheduleVolume(obj as VolumeObject, eligible);
      return;
    }
    if (kind === 'images') return this.scheduleImage(obj as ImageObject, eligible);
    return this.scheduleContainer(obj as ContainerObject, eligible);
  }

  private async bind(kind: Kind, obj: KObject, nodeName: string): Promise<void> {
    const resource = this.r[kind];
    await resource.patch(obj.metadata.namespace, obj.metadata.name, { metadata: { uid: obj.metadata.uid }, spec: { nodeName } }, { ...OPTS, type: 'merge' });
    this.assumed.set(`${kind}|${keyOf(obj)}`, nodeName);
  }

  /** A volume goes to the node of a container already using it, else to the best eligible node. */
  private async scheduleVolume(v: VolumeObject, eligible: NodeView[]): Promise<string | undefined> {
    const users = this.containers
      .list(v.metadata.namespace)
      .filter((c) => (c.spec?.volumeMounts ?? []).some((m) => m.name === v.metadata.name));
    const pinned = users.map((c) => this.nodeOf('containers', c)).find((n) => n);
    const node = pinned ?? eligible.filter((n) => matches(v.spec?.nodeSelector, n.labels))[0]?.name;
    if (!node) return undefined;
    await this.bind('volumes', v, node);
    return node;
  }

  private async scheduleContainer(c: ContainerObject, eligible: NodeView[]): Promise<void> {
    const pinned = new Set<string>();
    for (const m of c.spec?.volumeMounts ?? []) {
      if (!m.name) continue;
      const v = this.volumes.get(c.metadata.namespace, m.name);
      if (!v || v.metadata.deletionTimestamp) continue;
      const node = this.nodeOf('volumes', v) ?? (await this.scheduleVolume(v, eligible));
      if (node) pinned.add(node);
    }
    const req = requestsOf(c.spec);
    let message: string | undefined;
    let pick: NodeView | undefined;
    if (pinned.size > 1) message = `its volumes live on different nodes (${[...pinned].join(', ')})`;
    else {
      const cands = eligible.filter((v) => matches(c.spec?.nodeSelector, v.labels) && (pinned.size === 0 || pinned.has(v.name)));
      pick = cands.find((v) => v.usedCpu + req.cpu <= v.cpu && v.usedMemory + req.memory <= v.memory);
      if (!pick) {
        message =
          eligible.length === 0
            ? 'no Ready node is available'
            : cands.length === 0
              ? `no Ready node matches ${pinned.size ? `the node of its volume (${[...pinned][0]})` : 'spec.nodeSelector'}`
              : 'no node has enough allocatable cpu or memory for spec.resources.requests';
      }
    }
    if (pick) return this.bind('containers', c, pick.name);
    if (message) await this.unschedulable(c, message);
  }

  private async scheduleImage(i: ImageObject, eligible: NodeView[]): Promise<void> {
    const user = this.containers.list().find((c) => c.spec?.image === i.spec?.ref && this.nodeOf('containers', c));
    const node = (user && this.nodeOf('containers', user)) ?? eligible.filter((n) => matches(i.spec?.nodeSelector, n.labels))[0]?.name;
    if (node) await this.bind('images', i, node);
  }

  private async unschedulable(c: ContainerObject, message: string): Promise<void> {
    const status = c.status ?? {};
    const full = `no node fits: ${message}`;
    if (status.phase === 'Pending' && status.reason === 'Unschedulable' && status.message === full) return;
    await this.r.containers.patchStatus(c.metadata.namespace, c.metadata.name, { phase: 'Pending', reason: 'Unschedulable', message: full }, OPTS);
  }
}
