/**
 * Decodes a watch response (one JSON event per line, as the API server streams them) into
 * callbacks, with a bound on the size of one event, and a handle that stops it.
 */
import type { IncomingMessage } from 'node:http';
import { ApiStatusError, type KObject, type StatusBody, type WatchEventType, type WatchHandle } from './api-types.js';

/** Longest watch line (one object) accepted: a bound on what one event may make the client hold. */
const MAX_WATCH_LINE = 16 << 20;

/**
 * onEvent for every event but ERROR; onDone once: with no error when the server ended the stream
 * or stop() was called, with the error otherwise (an ERROR event becomes ApiStatusError, 410 for Gone).
 */
export function decodeWatch(res: IncomingMessage, what: string, onEvent: (type: WatchEventType, obj: KObject) => void, onDone: (err?: unknown) => void): WatchHandle {
  let stopped = false;
  let finished = false;
  const finish = (err?: unknown) => {
    if (finished) return;
    finished = true;
    onDone(stopped ? undefined : err);
  };
  let buffered = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    buffered += chunk;
    if (buffered.length > MAX_WATCH_LINE) {
      res.destroy(new Error(`watch ${what}: an event is larger than ${MAX_WATCH_LINE} bytes`));
      return;
    }
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (!line || finished) continue;
      let ev: { type: WatchEventType; object: KObject };
      try {
        ev = JSON.parse(line) as { type: WatchEventType; object: KObject };
      } catch {
        res.destroy(new Error(`watch ${what}: the server sent a line that is not JSON`));
        return;
      }
      if (ev.type === 'ERROR') {
        const st = ev.object as unknown as StatusBody;
        res.destroy();
        finish(new ApiStatusError(st.code ?? 500, st, `WATCH ${what}`));
        return;
      }
      onEvent(ev.type, ev.object);
    }
  });
  res.on('end', () => finish());
  res.on('error', (err) => finish(err));
  res.on('close', () => finish(stopped ? undefined : new Error(`watch ${what}: connection closed`)));
  return {
    stop() {
      stopped = true;
      res.destroy();
    },
  };
}
