/**
 * Namespace deletion, as Kubernetes' namespace controller: a Namespace with a deletionTimestamp has
 * everything in it deleted (every namespaced kind the server serves, listed through the API); once
 * nothing is left, the controller removes its `kubernetes` finalizer through the `/finalize`
 * subresource and the API server lets the namespace go. Objects still held by their own finalizers
 * (a Container the agent is stopping) are waited for: the key comes back after a short delay that
 * grows while the namespace stays non-empty.
 */
import { isNotFound, type KObject, type ResourceType } from '../client/api-client.js';
import { Controller, type ReconcileResult } from '../client/controller.js';
import type { Informer } from '../client/informer.js';
import { allResourceTypes, NamespaceType } from '../client/kinds.js';
import type { ControllerContext, RunnableController } from './context.js';

const MANAGER = 'berth-namespace-controller';
const NAMESPACE_FINALIZER = 'kubernetes';
const MAX_WAIT_MS = 5_000;

export class NamespaceController implements RunnableController {
  readonly name = 'namespace';
  private readonly controller: Controller;
  private readonly namespaces: Informer;
  private readonly waits = new Map<string, number>();

  constructor(
    private readonly ctx: ControllerContext,
    private readonly types: readonly ResourceType[] = allResourceTypes.filter((t) => t.namespaced),
  ) {
    this.namespaces = ctx.informers.for(ctx.client.resource(NamespaceType));
    this.controller = new Controller({ name: this.name, reconcile: (k) => this.reconcile(k), concurrency: 2, resyncMs: 60_000, log: ctx.log });
    this.controller.watch(this.namespaces, { predicate: (_e, ns) => !!ns.metadata.deletionTimestamp });
  }

  async start(): Promise<void> {
    await this.controller.start();
  }

  async stop(): Promise<void> {
    await this.controller.stop();
  }

  private async reconcile(name: string): Promise<ReconcileResult | void> {
    const ns = this.namespaces.get(undefined, name);
    if (!ns?.metadata.deletionTimestamp) {
      this.waits.delete(name);
      return;
    }
    let remaining = 0;
    for (const type of this.types) {
      const resource = this.ctx.client.resource(type);
      const list = await resource.listAll({ namespace: name });
      for (const obj of list.items) {
        remaining++;
        if (obj.metadata.deletionTimestamp) continue;
        await resource.delete(name, obj.metadata.name, { propagationPolicy: 'Background', preconditions: { uid: obj.metadata.uid ?? '' } }).catch((err: unknown) => {
          const code = (err as { code?: number }).code;
          if (code !== 404 && code !== 409) throw err;
        });
      }
    }
    if (remaining > 0) {
      const wait = Math.min(MAX_WAIT_MS, (this.waits.get(name) ?? 250) * 2);
      this.waits.set(name, wait);
      return { requeueAfterMs: wait };
    }
    this.waits.delete(name);
    await this.finalize(ns);
  }

  /** PUT /api/v1/namespaces/NAME/finalize without the `kubernetes` finalizer. */
  private async finalize(ns: KObject): Promise<void> {
    const spec = (ns.spec ?? {}) as { finalizers?: string[] };
    const finalizers = (spec.finalizers ?? []).filter((f) => f !== NAMESPACE_FINALIZER);
    try {
      await this.ctx.client
        .resource(NamespaceType)
        .replace(undefined, ns.metadata.name, { ...ns, spec: { ...spec, finalizers } }, { subresource: 'finalize', fieldManager: MANAGER });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
