/**
 * Raw requests to Container subresources (log, exec, top, stats) with the kubeconfig's server,
 * TLS settings and credentials; the response is a stream (logs follow) rather than a typed object.
 */
import type { IncomingMessage } from 'node:http';
import type { RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
const GROUP = 'berth.dev';
const VERSION = 'v1alpha1';
import { rawRequest, type RawConnection } from './raw-request.js';

export { RawRequestError as SubresourceError, readAll } from './raw-request.js';

export function containerSubresourcePath(namespace: string, name: string, sub: string): string {
  return `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(namespace)}/containers/${encodeURIComponent(name)}/${sub}`;
}

/** The kubeconfig's server, TLS settings and credentials, as raw requests and WebSockets take them. */
export async function rawConnectionOf(kc: KubeConfig): Promise<RawConnection> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const options: RequestOptions = { headers: {} };
  await kc.applyToHTTPSOptions(options);
  return { server: cluster.server, options };
}

/** Sends the request with the kubeconfig's server, TLS settings and credentials (see rawRequest). */
export async function requestSubresource(
  kc: KubeConfig,
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  query: Record<string, string | number | boolean | undefined> = {},
  body?: unknown,
): Promise<IncomingMessage> {
  return rawRequest(await rawConnectionOf(kc), method, path, query, body);
}
