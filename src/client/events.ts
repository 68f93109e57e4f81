/**
 * Records core v1 Events about objects (the agent's reconcilers, the GitSync controller), as
 * kubelet's event recorder does: a repeat of the same
 * reason and message for the same object bumps count and lastTimestamp instead of adding an event.
 * Failures to record are logged, never thrown: events are a courtesy, not state. Like kubelet's
 * broadcaster, record() only queues: the events go out in order, in the background, so reporting
 * what happened never delays the work itself (three events used to sit before a container's status).
 */
import { randomBytes } from 'node:crypto';
import type { KObject, ResourceClient } from './api-client.js';
import { errorText, logger } from '../util/log.js';

export type EventType = 'Normal' | 'Warning';

/** Events waiting to be sent beyond this are dropped (an API server that is down must not grow the agent). */
const MAX_QUEUED = 1000;

export class EventRecorder {
  private readonly seen = new Map<string, { name: string; count: number; first: string }>();

  constructor(
    /** Anything with the core v1 events resource (BerthResources fits). */
    private readonly client: { events: ResourceClient },
    private readonly component: string,
    private readonly host: string,
  ) {}

  private sending: Promise<void> = Promise.resolve();
  private queued = 0;

  record(obj: KObject, type: EventType, reason: string, message: string): void {
    if (this.queued >= MAX_QUEUED) {
      logger(this.component).warn({ reason, object: `${obj.metadata.namespace ?? 'default'}/${obj.metadata.name}` }, 'event queue full, event dropped');
      return;
    }
    this.queued++;
    this.sending = this.sending.then(() => this.send(obj, type, reason, message)).finally(() => this.queued--);
  }

  /** Resolves once every event recorded so far has been sent (or failed). */
  flush(): Promise<void> {
    return this.sending;
  }

  private async send(obj: KObject, type: EventType, reason: string, message: string): Promise<void> {
    const ns = obj.metadata.namespace ?? 'default';
    const key = `${obj.metadata.uid}/${type}/${reason}/${message}`;
    const now = new Date().toISOString();
    const prior = this.seen.get(key);
    try {
      if (prior) {
        prior.count++;
        await this.client.events.patch(ns, prior.name, { count: prior.count, lastTimestamp: now });
        return;
      }
    } catch {
      this.seen.delete(key);
    }
    const name = `${obj.metadata.name}.${Date.now().toString(16)}${randomBytes(3).toString('hex')}`;
    try {
      await this.client.events.create(ns, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace: ns },
        involvedObject: {
          apiVersion: obj.apiVersion,
          kind: obj.kind,
          name: obj.metadata.name,
          namespace: obj.metadata.namespace,
          uid: obj.metadata.uid,
          resourceVersion: obj.metadata.resourceVersion,
        },
        reason,
        message,
        type,
        count: 1,
        firstTimestamp: new Date(now),
        lastTimestamp: new Date(now),
        source: { component: this.component, host: this.host },
        reportingComponent: `berth.dev/${this.component}`,
        reportingInstance: `${this.component}-${this.host}`,
      });
      this.seen.set(key, { name, count: 1, first: now });
      if (this.seen.size > 5000) this.seen.delete(this.seen.keys().next().value as string);
    } catch (err) {
      logger(this.component).warn({ reason, object: `${ns}/${obj.metadata.name}`, err: errorText(err) }, 'could not record event');
    }
  }
}
