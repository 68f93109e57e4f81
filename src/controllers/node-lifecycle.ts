/**
 * Node lifecycle controller: a Node whose agent has been silent for longer than the grace period
 * gets Ready=Unknown, and the Containers bound to it phase Unknown (the agent writes the truth
 * again when it comes back).
 */
import type { KindInfo } from '../api/kind.js';
import type { ApiObject } from '../api/meta.js';
import type { Resources, WriteOptions } from '../apiserver/resources.js';
import { resourceOf } from '../api/kind.js';
import type { Store } from '../store/types.js';
import { Sweeper } from './sweeper.js';

const OPTS: WriteOptions = { fieldManager: 'berth-node-lifecycle', dryRun: false, fieldValidation: 'Strict' };

type Obj = ApiObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> };
interface Cond { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string }

export class NodeLifecycleController {
  private readonly sweeper: Sweeper;
  private readonly nodeKind: KindInfo;
  private readonly containerKind: KindInfo;

  constructor(
    private readonly store: Store,
    private readonly resources: Resources,
    kinds: KindInfo[],
    private readonly graceMs = 40_000,
    periodMs = 5_000,
  ) {
    const find = (plural: string): KindInfo => {
      const k = kinds.find((x) => x.group === 'berth.dev' && x.plural === plural);
      if (!k) throw new Error(`node-lifecycle: kind ${plural} is not registered`);
      return k;
    };
    this.nodeKind = find('nodes');
    this.containerKind = find('containers');
    this.sweeper = new Sweeper('node-lifecycle', () => this.sweep(), periodMs);
  }

  start(): void {
    this.sweeper.start();
  }

  stop(): void {
    this.sweeper.stop();
  }

  private async sweep(): Promise<void> {
    const nodes = (await this.store.list(resourceOf(this.nodeKind))).items as Obj[];
    const now = Date.now();
    const lost = new Set<string>();
    for (const n of nodes) {
      const beat = Date.parse(String(n.status?.lastHeartbeatTime ?? n.metadata.creationTimestamp ?? ''));
      if (!Number.isFinite(beat) || now - beat <= this.graceMs) continue;
      lost.add(n.metadata.name);
      const conds = (n.status?.conditions as Cond[] | undefined) ?? [];
      const ready = conds.find((c) => c.type === 'Ready');
      if (ready?.status === 'Unknown') continue;
      const next: Cond = {
        type: 'Ready',
        status: 'Unknown',
        reason: 'NodeStatusUnknown',
        message: `berth agent stopped posting node status ${Math.round((now - beat) / 1000)}s ago`,
        lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      };
      await this.resources.patch(this.nodeKind, '', n.metadata.name, 'merge', { status: { conditions: [...conds.filter((c) => c.type !== 'Ready'), next] } }, OPTS, 'status');
    }
    if (lost.size === 0) return;
    const containers = (await this.store.list(resourceOf(this.containerKind))).items as Obj[];
    for (const c of containers) {
      if (!lost.has(String(c.spec?.nodeName ?? '')) || c.status?.phase === 'Unknown' || c.metadata.deletionTimestamp) continue;
      await this.resources.patch(
        this.containerKind,
        c.metadata.namespace ?? '',
        c.metadata.name,
        'merge',
        { status: { phase: 'Unknown', reason: 'NodeLost', message: `node ${String(c.spec?.nodeName)} stopped reporting` } },
        OPTS,
        'status',
      );
    }
  }
}
