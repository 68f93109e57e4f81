/**
 * docker run --rm (HostConfig.AutoRemove, `berth run --rm -d`): Containers carrying the
 * berth.dev/auto-remove annotation are deleted, with their anonymous volumes, once they have run
 * and exited (or failed to start), as dockerd removes them. Runs in the Docker API front (its
 * namespace) and in `berth server` (every namespace), so a detached --rm container goes even when no
 * client waits for it; two removers deleting one container is harmless.
 */
import { isNotFound, type ApiClient, type KObject, type WatchHandle } from '../client/api-client.js';
import { DockerEngine } from '../client/docker/engine.js';
import { ANNOTATION_AUTO_REMOVE } from '../client/docker/names.js';
import { ContainerType } from '../client/kinds.js';

const exited = (c: KObject): boolean => {
  const s = (c.status ?? {}) as { phase?: string; finishedAt?: string; reason?: string };
  return (s.phase === 'Exited' && s.finishedAt !== undefined && s.reason !== 'Stopped') || (s.phase === 'Failed' && s.reason === 'StartError');
};

export class AutoRemover {
  private handle: WatchHandle | undefined;
  private stopped = false;
  private readonly removing = new Set<string>();
  private readonly engines = new Map<string, DockerEngine>();

  /** `namespace` undefined: every namespace. */
  constructor(
    private readonly client: ApiClient,
    private readonly namespace: string | undefined,
    private readonly log: (msg: string) => void,
  ) {}

  private engine(ns: string): DockerEngine {
    let e = this.engines.get(ns);
    if (!e) this.engines.set(ns, (e = new DockerEngine({ client: this.client, namespace: ns, createdBy: 'docker-api' })));
    return e;
  }

  private consider(c: KObject): void {
    if (c.metadata.annotations?.[ANNOTATION_AUTO_REMOVE] !== 'true' || c.metadata.deletionTimestamp || !exited(c)) return;
    const uid = c.metadata.uid ?? c.metadata.name;
    if (this.removing.has(uid)) return;
    this.removing.add(uid);
    this.engine(c.metadata.namespace ?? 'default')
      .remove(c, { force: true, volumes: true })
      .catch((e: unknown) => {
        if (!isNotFound(e)) this.log(`auto-remove of ${c.metadata.namespace}/${c.metadata.name}: ${(e as Error).message}`);
      })
      .finally(() => this.removing.delete(uid));
  }

  async start(): Promise<void> {
    const list = await this.client.resource(ContainerType).list(this.namespace ? { namespace: this.namespace } : {});
    for (const c of list.items) this.consider(c);
    this.watch(list.metadata.resourceVersion);
  }

  private watch(rv: string | undefined): void {
    if (this.stopped) return;
    let last = rv;
    this.client
      .resource(ContainerType)
      .watch(
        { ...(this.namespace ? { namespace: this.namespace } : {}), ...(last ? { resourceVersion: last } : {}), allowWatchBookmarks: true },
        (type, obj) => {
          if (obj.metadata.resourceVersion) last = obj.metadata.resourceVersion;
          if (type === 'ADDED' || type === 'MODIFIED') this.consider(obj);
        },
        (err) => {
          if (this.stopped) return;
          // ended: go on from the last version; failed (410...): start over from a fresh list
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
