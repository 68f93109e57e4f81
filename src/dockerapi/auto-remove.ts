/**
 * docker run --rm (HostConfig.AutoRemove) through the Docker API: Containers carrying the
 * berth.dev/auto-remove annotation are deleted, with their anonymous volumes, once they have run
 * and exited (or failed to start), as dockerd removes them.
 */
import { isNotFound, type KObject, type WatchHandle } from '../client/api-client.js';
import { ANNOTATION_AUTO_REMOVE } from '../client/docker/names.js';
import type { FrontContext } from './context.js';

const exited = (c: KObject): boolean => {
  const s = (c.status ?? {}) as { phase?: string; finishedAt?: string; reason?: string };
  return (s.phase === 'Exited' && s.finishedAt !== undefined && s.reason !== 'Stopped') || (s.phase === 'Failed' && s.reason === 'StartError');
};

export class AutoRemover {
  private handle: WatchHandle | undefined;
  private stopped = false;
  private readonly removing = new Set<string>();

  constructor(private readonly ctx: FrontContext) {}

  private consider(c: KObject): void {
    if (c.metadata.annotations?.[ANNOTATION_AUTO_REMOVE] !== 'true' || c.metadata.deletionTimestamp || !exited(c)) return;
    const uid = c.metadata.uid ?? c.metadata.name;
    if (this.removing.has(uid)) return;
    this.removing.add(uid);
    this.ctx.engine
      .remove(c, { force: true, volumes: true })
      .catch((e: unknown) => {
        if (!isNotFound(e)) this.ctx.log(`auto-remove of ${c.metadata.name}: ${(e as Error).message}`);
      })
      .finally(() => this.removing.delete(uid));
  }

  async start(): Promise<void> {
    const list = await this.ctx.engine.containers.list({ namespace: this.ctx.namespace });
    for (const c of list.items) this.consider(c);
    this.watch(list.metadata.resourceVersion);
  }

  private watch(rv: string | undefined): void {
    if (this.stopped) return;
    let last = rv;
    this.ctx.engine.containers
      .watch(
        { namespace: this.ctx.namespace, ...(last ? { resourceVersion: last } : {}), allowWatchBookmarks: true },
        (type, obj) => {
          if (obj.metadata.resourceVersion) last = obj.metadata.resourceVersion;
          if (type === 'ADDED' || type === 'MODIFIED') this.consider(obj);
        },
        (err) => {
          if (this.stopped) return;
          // ended or failed: start over from a fresh list after a moment
          setTimeout(() => {
            if (err) this.start().catch(() => this.watch(undefined));
            else this.watch(last);
          }, err ? 1000 : 0).unref();
        },
      )
      .then(
        (h) => {
          this.handle = h;
          if (this.stopped) h.stop();
        },
        () => setTimeout(() => this.watch(undefined), 1000).unref(),
      );
  }

  stop(): void {
    this.stopped = true;
    this.handle?.stop();
  }
}
