/**
 * Waits for an object to reach a condition by watching it through the API (a get, then a watch from
 * its resourceVersion, renewed when the server ends it): how Docker's synchronous verbs (create,
 * start, stop, rm, wait) wait for what the node agent reports in status.
 */
import { isNotFound, type KObject, type ResourceClient } from '../api-client.js';

export class WaitTimeout extends Error {}

/**
 * Resolves with the first non-undefined answer of `check` for the object as it is now (or as `from`, the
 * answer of a write, shows it) and after each change; `check(undefined)` is asked once the object is gone.
 * `timeoutMs` bounds the wait.
 */
export async function watchUntil<T>(
  rc: ResourceClient,
  namespace: string,
  name: string,
  check: (obj: KObject | undefined) => T | undefined,
  o: { timeoutMs?: number; signal?: AbortSignal; what?: string; from?: KObject } = {},
): Promise<T> {
  // `from`: the object as a write (create, patch) just answered it: the watch starts at its version, no get first
  let current = o.from ?? (await rc.getIfExists(namespace, name));
  const now = check(current);
  if (now !== undefined) return now;
  if (!current) throw new Error(`${o.what ?? name}: gone while waiting`);
  let rv = current.metadata.resourceVersion;
  return new Promise<T>((resolve, reject) => {
    let done = false;
    let handle: { stop(): void } | undefined;
    const timer = o.timeoutMs !== undefined ? setTimeout(() => finish(undefined, new WaitTimeout(`${o.what ?? name}: still waiting after ${Math.round(o.timeoutMs! / 1000)}s`)), o.timeoutMs) : undefined;
    const onAbort = () => finish(undefined, new Error('aborted'));
    o.signal?.addEventListener('abort', onAbort, { once: true });
    function finish(value: T | undefined, err?: unknown): void {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      handle?.stop();
      if (err !== undefined) reject(err);
      else resolve(value as T);
    }
    const offer = (obj: KObject | undefined) => {
      if (done) return;
      let v: T | undefined;
      try {
        v = check(obj);
      } catch (e) {
        return finish(undefined, e);
      }
      if (v !== undefined) finish(v);
    };
    const start = (): void => {
      if (done) return;
      rc.watch(
        { namespace, fieldSelector: `metadata.name=${name}`, ...(rv ? { resourceVersion: rv } : {}), allowWatchBookmarks: true },
        (type, obj) => {
          if (obj.metadata.resourceVersion) rv = obj.metadata.resourceVersion;
          if (type === 'BOOKMARK') return;
          current = type === 'DELETED' ? undefined : obj;
          offer(current);
        },
        (err) => {
          if (done) return;
          // renewed from the last version seen; too old (410) or failed: look again and watch from there
          const again = async () => {
            if (err !== undefined) {
              current = await rc.getIfExists(namespace, name);
              rv = current?.metadata.resourceVersion;
              offer(current);
              if (!current && !done) return finish(undefined, new Error(`${o.what ?? name}: gone while waiting`));
            }
            start();
          };
          again().catch((e: unknown) => (isNotFound(e) ? offer(undefined) : finish(undefined, e)));
        },
      ).then(
        (h) => {
          handle = h;
          if (done) h.stop();
        },
        (e: unknown) => finish(undefined, e),
      );
    };
    start();
  });
}
