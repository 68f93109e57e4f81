/**
 * Watch streams: newline-delimited JSON events over a chunked response, as Kubernetes serves them.
 * A watch without resourceVersion (or "0") starts with ADDED for every current object; one from a
 * compacted revision gets an ERROR event carrying a 410 Expired Status.
 *
 * Memory is bounded per watch: past maxBufferedBytes of what the client has not read, the watch
 * stops taking events from the store and takes them up again, from the store's history, once the
 * client has read; a client that reads nothing for stallTimeoutMs is dropped (the connection is
 * closed, as kube-apiserver drops a watcher that cannot keep up; its informer lists again) and
 * counted in apiserver_watch_dropped_total. One identity may hold at most maxWatchesPerUser watches
 * at once; one more is 429 Too Many Requests.
 */
import type { Request, Response } from 'express';
import { apiVersionOf, resourceOf, type KindInfo } from '../api/kind.js';
import type { ApiObject } from '../api/meta.js';
import { droppedWatches, openWatches } from '../metrics/apiserver.js';
import { logger } from '../util/log.js';
import { TooOldError, type Store, type Watch, type WatchEventType } from '../store/types.js';
import type { ResourceQuery } from './query.js';
import { ApiError, errors } from './status.js';
import { toTable } from './table.js';

export interface WatchTarget {
  kind: KindInfo;
  namespace: string;
}

export interface WatchSettings {
  bookmarkIntervalMs: number;
  /** Unread bytes past which a watch stops taking events until its client reads (default 1 MiB). */
  maxBufferedBytes?: number;
  /** How long a client may leave a full buffer unread before it is dropped (default 10 s). */
  stallTimeoutMs?: number;
  /** Watches one identity may hold at once (default 100). */
  maxWatchesPerUser?: number;
}

export const DEFAULT_WATCH_BUFFER_BYTES = 1024 * 1024;
export const DEFAULT_WATCH_STALL_MS = 10_000;
export const DEFAULT_WATCHES_PER_USER = 100;
export const defaultWatchSettings: WatchSettings = { bookmarkIntervalMs: 10_000 };

/** Open watches per identity, against the per-identity limit. */
export class WatchLimiter {
  private readonly open = new Map<string, number>();

  constructor(private readonly limit: number = DEFAULT_WATCHES_PER_USER) {}

  /** Counts a new watch of `user`; 429 when it already holds the limit. Pair with release(). */
  acquire(user: string): void {
    const n = this.open.get(user) ?? 0;
    if (n >= this.limit) {
      throw errors.tooManyRequests(`too many watches: user ${JSON.stringify(user)} already holds ${n} (the limit per identity is ${this.limit})`);
    }
    this.open.set(user, n + 1);
  }

  release(user: string): void {
    const n = (this.open.get(user) ?? 1) - 1;
    if (n <= 0) this.open.delete(user);
    else this.open.set(user, n);
  }
}
const MIN_TIMEOUT_S = 1800;

export async function serveWatch(
  store: Store,
  target: WatchTarget,
  q: ResourceQuery,
  asTable: boolean,
  req: Request,
  res: Response,
  settings: WatchSettings = defaultWatchSettings,
): Promise<void> {
  const { kind, namespace } = target;
  const resource = resourceOf(kind);
  let from: number | undefined;
  if (q.resourceVersion !== undefined && q.resourceVersion !== '0') {
    if (!/^\d+$/.test(q.resourceVersion)) throw errors.badRequest(`resourceVersion must be a revision number, got "${q.resourceVersion}"`);
    from = Number(q.resourceVersion);
  }
  const selectors = {
    namespace: kind.namespaced ? namespace : '',
    ...(q.labelSelector ? { labelSelector: q.labelSelector } : {}),
    ...(q.fieldSelector ? { fieldSelector: q.fieldSelector } : {}),
  };
  // Initial state (and selector errors) before the 200 goes out, so bad input still gets a clean 400.
  let initial: ApiObject[] = [];
  if (from === undefined) {
    const list = await store.list(resource, selectors);
    initial = list.items;
    from = Number(list.resourceVersion);
  }

  res.status(200);
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Cache-Control', 'no-cache, private');
  res.flushHeaders();

  const maxBuffered = settings.maxBufferedBytes ?? DEFAULT_WATCH_BUFFER_BYTES;
  const stallMs = settings.stallTimeoutMs ?? DEFAULT_WATCH_STALL_MS;
  let first = true;
  let lastRevision = from;
  let closed = false;
  let watch: Watch | undefined;
  /** Set while the client has more than maxBuffered unread: no store watch, a stall timer running. */
  let stalled: NodeJS.Timeout | undefined;
  const timers: NodeJS.Timeout[] = [];
  const labels = { resource: kind.plural };
  openWatches.inc(labels);

  const close = (): void => {
    if (closed) return;
    closed = true;
    watch?.stop();
    watch = undefined;
    if (stalled) clearTimeout(stalled);
    for (const t of timers) clearTimeout(t);
    openWatches.dec(labels);
    res.end();
  };
  /** The client stopped reading for stallMs with a full buffer: drop it, as kube-apiserver drops a blocked watcher. */
  const drop = (): void => {
    if (closed) return;
    droppedWatches.inc({ resource: kind.plural, reason: 'SlowClient' });
    logger('apiserver').warn({ resource: kind.plural, buffered: res.writableLength, limit: maxBuffered }, 'watch dropped: the client stopped reading');
    close();
    res.destroy();
  };
  const send = (type: WatchEventType | 'BOOKMARK' | 'ERROR', object: unknown): void => {
    if (closed) return;
    res.write(`${JSON.stringify({ type, object })}\n`);
    if (res.writableLength > maxBuffered && !stalled) pause();
  };
  const sendObject = (type: WatchEventType, obj: ApiObject): void => {
    if (!asTable) return send(type, obj);
    send(type, toTable(kind, [obj], { include: q.includeObject, withColumns: first }));
    first = false;
  };
  /**
   * Backpressure: past maxBuffered unread bytes the store watch stops (nothing more is held for this
   * client); once the client has read it all, the watch starts again after the last revision sent,
   * from the store's history. A client that reads nothing for stallMs is dropped.
   */
  const pause = (): void => {
    watch?.stop();
    watch = undefined;
    stalled = setTimeout(drop, stallMs);
    stalled.unref();
    res.once('drain', () => {
      if (closed) return;
      clearTimeout(stalled);
      stalled = undefined;
      if (following) void follow();
    });
  };
  let following = false;
  /** Follows the store from lastRevision; a history compacted past it is a 410 for the client to list again. */
  const follow = async (): Promise<void> => {
    following = true;
    try {
      const w = await store.watch(
        resource,
        { ...selectors, fromRevision: lastRevision },
        (ev) => {
          if (closed || stalled) return;
          lastRevision = Math.max(lastRevision, ev.revision);
          sendObject(ev.type, ev.object);
        },
        (err) => {
          send('ERROR', errors.internal(err.message).toStatus());
          close();
        },
      );
      if (closed || stalled) w.stop();
      else watch = w;
    } catch (err) {
      if (err instanceof TooOldError) send('ERROR', errors.gone(err.message).toStatus());
      else if (err instanceof ApiError) send('ERROR', err.toStatus());
      else send('ERROR', errors.internal(err instanceof Error ? err.message : String(err)).toStatus());
      close();
    }
  };
  req.on('close', close);
  res.on('error', close);

  // The initial state, as fast as the client reads it (the list is in memory already).
  for (const obj of initial) {
    if (closed) return;
    sendObject('ADDED', obj);
    if (stalled) await new Promise<void>((resolve) => {
      res.once('drain', () => resolve());
      res.once('close', () => resolve());
    });
  }
  if (closed) return;
  following = true;
  if (!stalled) await follow();
  if (closed) return;

  if (q.allowWatchBookmarks) {
    const bookmark = async (): Promise<void> => {
      if (closed) return;
      if (stalled || !watch) {
        // nothing is followed while the client catches up: no revision can be vouched for
        timers.push(setTimeout(() => void bookmark(), settings.bookmarkIntervalMs).unref());
        return;
      }
      // Every write offers its event to watchers before it returns: once this watch has drained,
      // nothing at or below the revision read first can still arrive, so it is a safe bookmark.
      const current = await store.revision();
      await watch?.drained();
      if (closed || stalled || !watch) return void timers.push(setTimeout(() => void bookmark(), settings.bookmarkIntervalMs).unref());
      const rev = Math.max(lastRevision, current);
      lastRevision = rev;
      send('BOOKMARK', { kind: kind.kind, apiVersion: apiVersionOf(kind), metadata: { resourceVersion: String(rev) } });
      timers.push(setTimeout(() => void bookmark(), settings.bookmarkIntervalMs).unref());
    };
    timers.push(setTimeout(() => void bookmark(), settings.bookmarkIntervalMs).unref());
  }
  const timeout = q.timeoutSeconds ?? Math.floor(MIN_TIMEOUT_S * (1 + Math.random()));
  // at most a day: past 2^31 ms setTimeout would fire at once
  timers.push(setTimeout(close, Math.min(timeout, 86_400) * 1000).unref());
}
