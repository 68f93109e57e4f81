/** Namespace deletion: empties a terminating namespace, then lets it go. */
import { resourceOf, type KindInfo } from '../api/kind.js';
import type { Resources } from '../apiserver/resources.js';
import type { Store } from '../store/types.js';
import { Sweeper } from './sweeper.js';

const MANAGER = 'berth-namespace-controller';

export class NamespaceController {
  private readonly sweeper = new Sweeper('namespace-controller', () => this.sweep(), 15_000);

  constructor(
    private readonly store: Store,
    private readonly resources: Resources,
    private readonly kinds: KindInfo[],
  ) {}

  private get namespaceKind(): KindInfo | undefined {
    return this.kinds.find((k) => k.group === '' && k.plural === 'namespaces');
  }

  async start(): Promise<void> {
    const nsKind = this.namespaceKind;
    if (!nsKind) return;
    const from = await this.store.revision();
    await this.sweeper.pokeOn(this.store, resourceOf(nsKind), from, (ev) => !!ev.object.metadata.deletionTimestamp);
    for (const kind of this.kinds.filter((k) => k.namespaced)) {
      await this.sweeper.pokeOn(this.store, resourceOf(kind), from, (ev) => ev.type === 'DELETED');
    }
    this.sweeper.start();
  }

  stop(): void {
    this.sweeper.stop();
  }

  idle(): Promise<void> {
    return this.sweeper.idle();
  }

  private async sweep(): Promise<void> {
    const nsKind = this.namespaceKind;
    if (!nsKind) return;
    const namespaces = await this.store.list(resourceOf(nsKind));
    for (const ns of namespaces.items) {
      if (!ns.metadata.deletionTimestamp) continue;
      let remaining = 0;
      for (const kind of this.kinds.filter((k) => k.namespaced)) {
        const list = await this.store.list(resourceOf(kind), { namespace: ns.metadata.name });
        remaining += list.items.length;
        for (const obj of list.items) {
          if (obj.metadata.deletionTimestamp) continue;
          await this.resources
            .delete(kind, ns.metadata.name, obj.metadata.name, { dryRun: false, propagationPolicy: 'Background' })
            .catch(() => undefined);
        }
      }
      if (remaining === 0) await this.resources.finalizeNamespace(ns.metadata.name, MANAGER);
    }
  }
}
