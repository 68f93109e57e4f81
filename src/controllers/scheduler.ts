/**
 * The scheduler: binds Containers, Volumes and Images without spec.nodeName to a node. A node is
 * eligible when Ready, schedulable, free of NoSchedule taints and matching spec.nodeSelector; a
 * Container mounting a Volume that lives on a node goes to that node; Containers must fit in the
 * node's allocatable cpu and memory by their requests (limits when no requests); among the rest
 * the node with the fewest containers wins (spread). Level-triggered: every sweep looks at everything.
 */
import { resourceOf, type KindInfo } from '../api/kind.js';
import type { ApiObject } from '../api/meta.js';
import { parseQuantity } from '../api/quantity.js';
import type { Resources, WriteOptions } from '../apiserver/resources.js';
import type { Store } from '../store/types.js';
import { Sweeper } from './sweeper.js';

const OPTS: WriteOptions = { fieldManager: 'berth-scheduler', dryRun: false, fieldValidation: 'Strict' };

type Obj = ApiObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> };

interface NodeView {
  name: string;
  labels: Record<string, string>;
  cpu: number;
  memory: number;
  usedCpu: number;
  usedMemory: number;
  containers: number;
}

function isReady(node: Obj): boolean {
  const conds = (node.status?.conditions as { type: string; status: string }[] | undefined) ?? [];
  return conds.some((c) => c.type === 'Ready' && c.status === 'True');
}

function schedulable(node: Obj): boolean {
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

export class Scheduler {
  private readonly sweeper = new Sweeper('scheduler', () => this.sweep(), 10_000);
  private readonly kinds: { container: KindInfo; volume: KindInfo; image: KindInfo; node: KindInfo };

  constructor(
    private readonly store: Store,
    private readonly resources: Resources,
    kinds: KindInfo[],
  ) {
    const find = (plural: string): KindInfo => {
      const k = kinds.find((x) => x.group === 'berth.dev' && x.plural === plural);
      if (!k) throw new Error(`scheduler: kind ${plural} is not registered`);
      return k;
    };
    this.kinds = { container: find('containers'), volume: find('volumes'), image: find('images'), node: find('nodes') };
  }

  async start(): Promise<void> {
    const from = await this.store.revision();
    for (const kind of Object.values(this.kinds)) {
      // Only what can change a placement: nodes, unbound objects, and deletions that free room.
      await this.sweeper.pokeOn(this.store, resourceOf(kind), from, (ev) => {
        const spec = (ev.object as Obj).spec;
        return kind === this.kinds.node || !spec?.nodeName || (ev.type === 'DELETED' && kind === this.kinds.container);
      });
    }
    this.sweeper.start();
  }

  stop(): void {
    this.sweeper.stop();
  }

  idle(): Promise<void> {
    return this.sweeper.idle();
  }

  private async all(kind: KindInfo): Promise<Obj[]> {
    return (await this.store.list(resourceOf(kind))).items as Obj[];
  }

  private async bind(kind: KindInfo, obj: Obj, nodeName: string): Promise<void> {
    await this.resources.patch(kind, obj.metadata.namespace ?? '', obj.metadata.name, 'merge', { spec: { nodeName } }, OPTS, undefined);
  }

  private async unbound(kind: KindInfo): Promise<number> {
    const list = await this.store.list(resourceOf(kind), { fieldSelector: 'spec.nodeName=' });
    return list.items.filter((o) => !o.metadata.deletionTimestamp).length;
  }

  private async sweep(): Promise<void> {
    const nodes = (await this.all(this.kinds.node)).filter((n) => !n.metadata.deletionTimestamp);
    // With no node (an API-only server) or nothing unbound there is nothing to decide: skip the full lists.
    if (nodes.length === 0) return;
    const waiting = (await this.unbound(this.kinds.container)) + (await this.unbound(this.kinds.volume)) + (await this.unbound(this.kinds.image));
    if (waiting === 0) return;
    const containers = (await this.all(this.kinds.container)).filter((c) => !c.metadata.deletionTimestamp);
    const volumes = (await this.all(this.kinds.volume)).filter((v) => !v.metadata.deletionTimestamp);
    const images = (await this.all(this.kinds.image)).filter((i) => !i.metadata.deletionTimestamp);
    const views = new Map<string, NodeView>();
    const eligible = new Set<string>();
    for (const n of nodes) {
      const alloc = (n.status?.allocatable ?? n.status?.capacity ?? {}) as { cpu?: unknown; memory?: unknown };
      views.set(n.metadata.name, { name: n.metadata.name, labels: n.metadata.labels ?? {}, cpu: qty(alloc.cpu) || Infinity, memory: qty(alloc.memory) || Infinity, usedCpu: 0, usedMemory: 0, containers: 0 });
      if (isReady(n) && schedulable(n)) eligible.add(n.metadata.name);
    }
    for (const c of containers) {
      const v = views.get(String(c.spec?.nodeName ?? ''));
      if (!v) continue;
      const r = requestsOf(c.spec);
      v.usedCpu += r.cpu;
      v.usedMemory += r.memory;
      v.containers++;
    }
    const candidates = (selector: unknown): NodeView[] =>
      [...eligible].map((n) => views.get(n)!).filter((v) => matches(selector, v.labels)).sort((a, b) => a.containers - b.containers || a.name.localeCompare(b.name));

    // Volumes first: a container follows its volume.
    const volumeNode = new Map<string, string>();
    for (const v of volumes) {
      let node = v.spec?.nodeName as string | undefined;
      if (!node) {
        const users = containers.filter((c) => c.metadata.namespace === v.metadata.namespace && ((c.spec?.volumeMounts as { name?: string }[] | undefined) ?? []).some((m) => m.name === v.metadata.name));
        const pinned = users.map((c) => c.spec?.nodeName as string | undefined).find((n) => n);
        node = pinned ?? candidates(v.spec?.nodeSelector)[0]?.name;
        if (!node) continue;
        await this.bind(this.kinds.volume, v, node);
      }
      volumeNode.set(`${v.metadata.namespace}/${v.metadata.name}`, node);
    }

    for (const c of containers) {
      if (c.spec?.nodeName) continue;
      const mounts = (c.spec?.volumeMounts as { name?: string }[] | undefined) ?? [];
      const pinned = new Set(mounts.filter((m) => m.name).map((m) => volumeNode.get(`${c.metadata.namespace}/${m.name}`)).filter((n): n is string => !!n));
      const req = requestsOf(c.spec);
      let message: string | undefined;
      let pick: NodeView | undefined;
      if (pinned.size > 1) message = `its volumes live on different nodes (${[...pinned].join(', ')})`;
      else {
        const cands = candidates(c.spec?.nodeSelector).filter((v) => pinned.size === 0 || pinned.has(v.name));
        const fit = cands.filter((v) => v.usedCpu + req.cpu <= v.cpu && v.usedMemory + req.memory <= v.memory);
        pick = fit[0];
        if (!pick) {
          message =
            eligible.size === 0
              ? 'no Ready node is available'
              : cands.length === 0
                ? `no Ready node matches ${pinned.size ? `the node of its volume (${[...pinned][0]})` : 'spec.nodeSelector'}`
                : 'no node has enough allocatable cpu or memory for spec.resources.requests';
        }
      }
      if (pick) {
        await this.bind(this.kinds.container, c, pick.name);
        pick.usedCpu += req.cpu;
        pick.usedMemory += req.memory;
        pick.containers++;
      } else if (message && nodes.length > 0) {
        // With no Node registered at all (an API-only server) there is nothing to report against.
        await this.unschedulable(c, message);
      }
    }

    for (const i of images) {
      if (i.spec?.nodeName) continue;
      const ref = i.spec?.ref;
      const user = containers.find((c) => c.spec?.image === ref && c.spec?.nodeName);
      const node = (user?.spec?.nodeName as string | undefined) ?? candidates(i.spec?.nodeSelector)[0]?.name;
      if (node) await this.bind(this.kinds.image, i, node);
    }
  }

  private async unschedulable(c: Obj, message: string): Promise<void> {
    const status = (c.status ?? {}) as { phase?: string; reason?: string; message?: string };
    const full = `no node fits: ${message}`;
    if (status.phase === 'Pending' && status.reason === 'Unschedulable' && status.message === full) return;
    await this.resources.patch(this.kinds.container, c.metadata.namespace ?? '', c.metadata.name, 'merge', { status: { phase: 'Pending', reason: 'Unschedulable', message: full } }, OPTS, 'status');
  }
}
