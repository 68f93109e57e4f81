/**
 * Node lifecycle controller: a Node whose agent has been silent for longer than the grace period
 * gets Ready=Unknown, and the Containers bound to it phase Unknown (the agent writes the truth again
 * when it comes back). Each node is looked at again when its grace runs out, not on a fixed sweep.
 */
import { Controller, type ReconcileResult } from '../client/controller.js';
import type { Informer } from '../client/informer.js';
import { berthResources, type BerthResources, type ContainerObject, type NodeObject } from '../client/kinds.js';
import type { ControllerContext, RunnableController } from './context.js';

const OPTS = { fieldManager: 'berth-node-lifecycle' };

interface Cond {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export class NodeLifecycleController implements RunnableController {
  readonly name = 'node_lifecycle';
  private readonly controller: Controller;
  private readonly nodes: Informer<NodeObject>;
  private readonly containers: Informer<ContainerObject>;
  private readonly r: BerthResources;

  constructor(
    ctx: ControllerContext,
    private readonly graceMs = 40_000,
  ) {
    this.r = berthResources(ctx.client);
    this.nodes = ctx.informers.for(this.r.nodes);
    this.containers = ctx.informers.for(this.r.containers);
    this.containers.addIndex('nodeName', (c) => (c.spec?.nodeName ? [c.spec.nodeName] : []));
    this.controller = new Controller({ name: this.name, reconcile: (k) => this.reconcile(k), resyncMs: 30_000, log: ctx.log });
    this.controller.watch(this.nodes);
  }

  async start(): Promise<void> {
    await this.controller.start();
  }

  async stop(): Promise<void> {
    await this.controller.stop();
  }

  private async reconcile(name: string): Promise<ReconcileResult | void> {
    const n = this.nodes.get(undefined, name);
    if (!n || n.metadata.deletionTimestamp) return;
    const beat = Date.parse(String(n.status?.lastHeartbeatTime ?? n.metadata.creationTimestamp ?? ''));
    if (!Number.isFinite(beat)) return;
    const silent = Date.now() - beat;
    if (silent <= this.graceMs) return { requeueAfterMs: this.graceMs - silent + 100 };
    const conds = (n.status?.conditions as Cond[] | undefined) ?? [];
    if (conds.find((c) => c.type === 'Ready')?.status !== 'Unknown') {
      const next: Cond = {
        type: 'Ready',
        status: 'Unknown',
        reason: 'NodeStatusUnknown',
        message: `berth agent stopped posting node status ${Math.round(silent / 1000)}s ago`,
        lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      };
      await this.r.nodes.patchStatus(undefined, name, { conditions: [...conds.filter((c) => c.type !== 'Ready'), next] }, OPTS);
    }
    for (const c of this.containers.byIndex('nodeName', name)) {
      if (c.status?.phase === 'Unknown' || c.metadata.deletionTimestamp) continue;
      await this.r.containers.patchStatus(c.metadata.namespace, c.metadata.name, { phase: 'Unknown', reason: 'NodeLost', message: `node ${name} stopped reporting` }, OPTS);
    }
    // a node that stays silent is looked at again (containers bound to it meanwhile)
    return { requeueAfterMs: this.graceMs };
  }
}
