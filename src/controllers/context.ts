/**
 * What every controller is made with: the API client (its only way to the cluster), the shared
 * informers of its process, and a log. The same controller runs inside `berth server` (in-process
 * transport) and in `berth controller` (HTTPS), because this is all it knows.
 */
import type { ApiClient } from '../client/api-client.js';
import type { InformerFactory } from '../client/informer.js';
import type { LogFn } from '../util/log.js';

export interface ControllerContext {
  client: ApiClient;
  informers: InformerFactory;
  log: LogFn;
}

/** A controller as its process composes it. */
export interface RunnableController {
  readonly name: string;
  /** Registers informers and handlers; the informers are started by the process (shared). */
  start(): Promise<void>;
  stop(): Promise<void>;
}
