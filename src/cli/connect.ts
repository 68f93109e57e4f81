import { BerthClient } from './client.js';
import { knownKinds } from './known-kinds.js';
import { loadKubeConfig, namespaceFor, type ConnectionFlags } from './kubeconfig.js';

export interface Connection {
  client: BerthClient;
  /** -n, else the context namespace, else "default". */
  namespace: string;
}

/** Loads the kubeconfig the flags point at and makes a client for it. */
export function connect(flags: ConnectionFlags & { namespace?: string }): Connection {
  const kc = loadKubeConfig(flags);
  return { client: new BerthClient(kc, knownKinds), namespace: namespaceFor(kc, flags.namespace) };
}
