/**
 * An informer on @kubernetes/client-node's ListWatch for one berth.dev resource, optionally limited
 * by a field selector. client-node's informer stops on any error (a server restart, a 410): this one
 * starts itself again after a short delay, as client-go's reflector does.
 */
import { ListWatch, Watch, type KubernetesObject } from '@kubernetes/client-node';
import { GROUP, VERSION, type KObject, type KubeClient } from './kube.js';

export interface ResourceInformer {
  /** Resolves once the first list has been loaded into the cache. */
  start(): Promise<void>;
  stop(): Promise<void>;
  get(name: string, namespace?: string): KObject | undefined;
  list(namespace?: string): readonly KObject[];
  on(verb: 'add' | 'update' | 'delete', cb: (obj: KObject) => void): void;
}

export function resourceInformer(client: KubeClient, plural: string, opts: { fieldSelector?: string; restartDelayMs?: number; onError?: (err: unknown) => void } = {}): ResourceInformer {
  const path = `/apis/${GROUP}/${VERSION}/${plural}`;
  const informer = new ListWatch<KubernetesObject>(
    path,
    new Watch(client.kc),
    async () => (await client.list(plural, { fieldSelector: opts.fieldSelector })) as never,
    false,
    undefined,
    opts.fieldSelector,
  );
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const restart = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      informer.start().catch((err: unknown) => {
        opts.onError?.(err);
        restart();
      });
    }, opts.restartDelayMs ?? 500);
    timer.unref();
  };
  informer.on('error', (err) => {
    opts.onError?.(err);
    restart();
  });
  return {
    async start() {
      stopped = false;
      for (;;) {
        try {
          await informer.start();
          return;
        } catch (err) {
          opts.onError?.(err);
          if (stopped) return;
          await new Promise((r) => setTimeout(r, opts.restartDelayMs ?? 500));
        }
      }
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await informer.stop();
    },
    get: (name, namespace) => informer.get(name, namespace) as KObject | undefined,
    list: (namespace) => informer.list(namespace) as unknown as readonly KObject[],
    on(verb, cb) {
      informer.on(verb, (o) => cb(o as unknown as KObject));
    },
  };
}
