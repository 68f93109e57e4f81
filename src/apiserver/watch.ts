/**
 * Watch streams: newline-delimited JSON events over a chunked response, as Kubernetes serves them.
 * A watch without resourceVersion (or "0") starts with ADDED for every current object; one from a
 * compacted revision gets an ERROR event carrying a 410 Expired Status.
 */
import type { Request, Response } from 'express';
import { apiVersionOf, resourceOf, type KindInfo } from '../api/kind.js';
import type { ApiObject } from '../api/meta.js';
import { openWatches } from '../metrics/apiserver.js';
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
}

export const defaultWatchSettings: WatchSettings = { bookmarkIntervalMs: 10_000 };
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

  let first = true;
  let lastRevision = from;
  let closed = false;
  let watch: Watch | undefined;
  const timers: NodeJS.Timeout[] = [];
  const labels = { resource: kind.plural };
  openWatches.inc(labels);

  const send = (type: WatchEventType | 'BOOKMARK' | 'ERROR', object: unknown): void => {
    if (closed) return;
    res.write(`${JSON.stringify({ type, object })}\n`);
  };
  const sendObject = (type: WatchEventType, obj: ApiObject): void => {
    if (!asTable) return send(type, obj);
    send(type, toTable(kind, [obj], { include: q.includeObject, withColumns: first }));
    first = false;
  };
  const close = (): void => {
    if (closed) return;
    closed = true;
    watch?.stop();
    for (const t of timers) clearTimeout(t);
    openWatches.dec(labels);
    res.end();
  };
  req.on('close', close);
  res.on('error', close);

  for (const obj of initial) sendObject('ADDED', obj);
  try {
    watch = await store.watch(
      resource,
      { ...selectors, fromRevision: from },
      (ev) => {
        lastRevision = Math.max(lastRevision, ev.revision);
        sendObject(ev.type, ev.object);
      },
      (err) => {
        send('ERROR', errors.internal(err.message).toStatus());
        close();
      },
    );
  } catch (err) {
    if (err instanceof TooOldError) {
      send('ERROR', errors.gone(err.message).toStatus());
      close();
      return;
    }
    if (err instanceof ApiError) send('ERROR', err.toStatus());
    else send('ERROR', errors.internal(err instanceof Error ? err.message : String(err)).toStatus());
    close();
    return;
  }
  if (closed) {
    watch.stop();
    return;
  }

  if (q.allowWatchBookmarks) {
    const bookmark = async (): Promise<void> => {
      if (closed) return;
      // Every write offers its event to watchers before it returns: once this watch has drained,
      // nothing at or below the revision read first can still arrive, so it is a safe bookmark.
      const current = await store.revision();
      await watch?.drained();
      if (closed) return;
      const rev = Math.max(lastRevision, current);
      lastRevision = rev;
      send('BOOKMARK', { kind: kind.kind, apiVersion: apiVersionOf(kind), metadata: { resourceVersion: String(rev) } });
      timers.push(setTimeout(() => void bookmark(), settings.bookmarkIntervalMs).unref());
    };
    timers.push(setTimeout(() => void bookmark(), settings.bookmarkIntervalMs).unref());
  }
  const timeout = q.timeoutSeconds ?? Math.floor(MIN_TIMEOUT_S * (1 + Math.random()));
  timers.push(setTimeout(close, timeout * 1000).unref());
}
