import { ApiException } from '@kubernetes/client-node';
import type { BerthClient, Query } from './client.js';

export interface WatchLoopOptions {
  client: BerthClient;
  /** Collection path, e.g. /apis/berth.dev/v1alpha1/namespaces/default/containers. */
  path: string;
  query: Query;
  accept?: string;
  /** Revision to start after (from the initial list). */
  resourceVersion: string;
  /** Return true to end the loop. BOOKMARK and ERROR events are handled here and not passed on. */
  onEvent(type: string, object: Record<string, unknown>): boolean | void;
  /** After 410 Gone: list again and return the revision to watch from. */
  relist(): Promise<string>;
  signal?: AbortSignal;
}

type Ended = 'closed' | 'gone' | 'finished' | 'aborted';

/** The revision an event carries; a Table event carries it on its row's object. */
export function eventRevision(object: Record<string, unknown>): string | undefined {
  const own = (object.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
  if (own) return own;
  const rows = object.rows as { object?: { metadata?: { resourceVersion?: string } } }[] | undefined;
  return rows?.[0]?.object?.metadata?.resourceVersion;
}

function isAbort(err: unknown): boolean {
  return !!err && typeof err === 'object' && (err as { name?: string }).name === 'AbortError';
}

/**
 * Watches with client-node's Watch until onEvent says stop or the signal aborts: resumes from the
 * last revision seen when the server ends the stream, and relists after 410 Gone.
 */
export async function watchLoop(opts: WatchLoopOptions): Promise<void> {
  let rv = opts.resourceVersion;
  for (;;) {
    if (opts.signal?.aborted) return;
    let sawEvent = false;
    const ended = await new Promise<Ended>((resolve, reject) => {
      let settled = false;
      let controller: AbortController | undefined;
      const finish = (e: Ended) => {
        if (settled) return;
        settled = true;
        opts.signal?.removeEventListener('abort', onAbort);
        controller?.abort();
        resolve(e);
      };
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        opts.signal?.removeEventListener('abort', onAbort);
        controller?.abort();
        reject(err);
      };
      const onAbort = () => finish('aborted');
      opts.signal?.addEventListener('abort', onAbort);
      opts.client
        .watch(
          opts.path,
          { ...opts.query, resourceVersion: rv, allowWatchBookmarks: true },
          {
            onEvent(type, object) {
              if (settled) return;
              sawEvent = true;
              if (type === 'ERROR') {
                const code = typeof object.code === 'number' ? object.code : 500;
                if (code === 410) finish('gone');
                else fail(new ApiException(code, 'watch', object, {}));
                return;
              }
              rv = eventRevision(object) ?? rv;
              if (type === 'BOOKMARK') return;
              try {
                if (opts.onEvent(type, object) === true) finish('finished');
              } catch (err) {
                fail(err);
              }
            },
            onDone(err) {
              if (!err || isAbort(err)) finish('closed');
              else if ((err as { statusCode?: number }).statusCode === 410) finish('gone');
              else fail(err);
            },
          },
          opts.accept,
        )
        .then((c) => {
          controller = c;
          if (settled) c.abort();
        }, fail);
    });
    if (ended === 'finished' || ended === 'aborted') return;
    if (ended === 'gone') rv = await opts.relist();
    // A stream the server ends without sending anything: don't spin on reconnects.
    else if (!sawEvent) await new Promise((r) => setTimeout(r, 1000));
  }
}
