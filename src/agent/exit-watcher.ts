/**
 * Turns the runtime's exit events into work-queue keys: an exit of a container this agent made
 * (labelled with its object's uid, namespace and name) queues that object's key. The runtime
 * notices exits (conmon's exit files) and reports, on subscribe, the exits that happened while no
 * agent listened.
 */
import type { ExitEvent, Runtime } from '../runtime/index.js';
import { LABEL_NAME, LABEL_NAMESPACE, LABEL_UID, objectKey } from './names.js';

export class ExitWatcher {
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly runtime: Runtime,
    private readonly onExit: (key: string) => void,
  ) {}

  start(): void {
    this.unsubscribe ??= this.runtime.tasks.onExit((e: ExitEvent) => {
      const ns = e.labels[LABEL_NAMESPACE];
      const name = e.labels[LABEL_NAME];
      if (e.labels[LABEL_UID] && ns && name) this.onExit(objectKey(ns, name));
    });
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }
}
