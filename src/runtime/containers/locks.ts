import { Mutex } from '../util/mutex.js';

/**
 * One mutex per container, shared by the services that change a container (tasks, metadata,
 * changes): a start, stop, observation or removal of one container runs alone.
 */
export class ContainerLocks {
  private readonly locks = new Map<string, Mutex>();

  run<T>(id: string, fn: () => Promise<T>): Promise<T> {
    let m = this.locks.get(id);
    if (!m) this.locks.set(id, (m = new Mutex()));
    return m.run(fn);
  }

  /** Drops a removed container's mutex. */
  forget(id: string): void {
    this.locks.delete(id);
  }
}
