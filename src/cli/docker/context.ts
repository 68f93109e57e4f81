/**
 * What Berth's Docker verbs share: the API client and the raw connection from the kubeconfig, the
 * namespace, the node (--node, else the only Ready node, else this machine's), the Docker engine
 * over them, and Docker's way of failing: "Error response from daemon: ..." and an exit code (125
 * for run and create, 1 for the other verbs).
 */
import type { RequestOptions } from 'node:https';
import { ApiClient, ApiStatusError } from '../../client/api-client.js';
import { DockerEngine } from '../../client/docker/engine.js';
import { DockerError, type CreatedBy } from '../../client/docker/names.js';
import { TemplateError } from '../../client/docker/template.js';
import { WaitTimeout } from '../../client/docker/watch-until.js';
import { pooledFrom } from '../../client/kubeconfig.js';
import { NodeApiClient, NodeApiError } from '../../client/node-api.js';
import { chooseNode, NodeChoiceError } from '../../client/node-choice.js';
import { rawRequest, readAll, RawRequestError, type RawConnection } from '../../client/raw-request.js';
import { containerSubresourcePath } from '../../client/subresource.js';
import type { FlagSpecs } from '../args.js';
import { CliError, ExitError } from '../errors.js';
import { loadKubeConfig, namespaceFor, type ConnectionFlags } from '../kubeconfig.js';

export const connectionFlags = {
  kubeconfig: { type: 'string', valueName: 'FILE', description: 'kubeconfig to use (default: $KUBECONFIG, <data-dir>/kubeconfig, ~/.kube/config)' },
  'data-dir': { type: 'string', valueName: 'DIR', description: 'berth state directory (default: /var/lib/berth as root, else $XDG_DATA_HOME/berth)' },
  context: { type: 'string', valueName: 'NAME', description: 'kubeconfig context to use' },
  namespace: { type: 'string', valueName: 'NS', description: 'namespace (default: the context namespace, else "default")' },
  help: { type: 'boolean', description: 'show this help' },
} as const satisfies FlagSpecs;

export const nodeFlag = {
  node: { type: 'string', valueName: 'NAME', description: 'node to run on (default: the only Ready node, else the node named like this host)' },
} as const satisfies FlagSpecs;

export interface DockerContext {
  client: ApiClient;
  conn: RawConnection;
  namespace: string;
  engine: DockerEngine;
  nodeName?: string;
  /** The node image API of the chosen node. */
  node(): NodeApiClient;
}

export async function dockerContext(flags: ConnectionFlags & { namespace?: string; node?: string }, o: { needNode?: boolean; createdBy?: CreatedBy } = {}): Promise<DockerContext> {
  const loaded = loadKubeConfig(flags);
  const kc = pooledFrom(loaded);
  const client = new ApiClient(kc);
  const cluster = kc.getCurrentCluster()!;
  const options: RequestOptions = { headers: {} };
  await kc.applyToHTTPSOptions(options);
  const conn: RawConnection = { server: cluster.server, options };
  const namespace = namespaceFor(loaded, flags.namespace);
  let nodeName: string | undefined = flags.node;
  if (o.needNode && !nodeName) nodeName = await chooseNode(conn);
  const engine = new DockerEngine({
    client,
    namespace,
    createdBy: o.createdBy ?? 'cli',
    ...(nodeName ? { nodeName } : {}),
    kill: async (c, signal) => void (await readAll(await rawRequest(conn, 'POST', containerSubresourcePath(namespace, c.metadata.name, 'kill'), { signal }))),
    ...(nodeName ? { imageExposedPorts: async (ref: string) => ((await new NodeApiClient(conn, nodeName).inspectImage(ref)).Config as { ExposedPorts?: Record<string, unknown> } | undefined)?.ExposedPorts ?? undefined } : {}),
  });
  return {
    client,
    conn,
    namespace,
    engine,
    ...(nodeName ? { nodeName } : {}),
    node: () => {
      if (!nodeName) throw new CliError('no node chosen');
      return new NodeApiClient(conn, nodeName);
    },
  };
}

/** The message of an error as the docker CLI shows a daemon's. */
export function dockerMessage(e: unknown): string {
  if (e instanceof DockerError || e instanceof ApiStatusError || e instanceof RawRequestError || e instanceof NodeApiError || e instanceof WaitTimeout) {
    return `Error response from daemon: ${e.message}`;
  }
  if (e instanceof NodeChoiceError || e instanceof TemplateError || e instanceof CliError) return e.message;
  return e instanceof Error ? e.message : String(e);
}

/** Runs a Docker verb: a failure prints Docker's message and ends with `code` (125 for run and create). */
export async function dockerVerb(code: number, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof ExitError) throw e;
    process.stderr.write(`${dockerMessage(e)}\n`);
    throw new ExitError(code);
  }
}
