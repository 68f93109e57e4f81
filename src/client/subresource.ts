/**
 * Raw requests to Container subresources (log, exec, top, stats) with the kubeconfig's server,
 * TLS settings and credentials; the response is a stream (logs follow) rather than a typed object.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import type { KubeConfig } from '@kubernetes/client-node';
import { GROUP, VERSION } from './kube.js';

export class SubresourceError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export function containerSubresourcePath(namespace: string, name: string, sub: string): string {
  return `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(namespace)}/containers/${encodeURIComponent(name)}/${sub}`;
}

/** Sends the request; resolves with the response when it is 2xx, else rejects with the Status message. */
export async function requestSubresource(
  kc: KubeConfig,
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  query: Record<string, string | number | boolean | undefined> = {},
  body?: unknown,
): Promise<IncomingMessage> {
  const stream = body instanceof Readable ? body : undefined;
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const url = new URL(path, cluster.server);
  for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
  const opts: https.RequestOptions = { method, headers: { accept: 'application/json, */*' } };
  await kc.applyToHTTPSOptions(opts);
  const payload = body === undefined || stream ? undefined : Buffer.from(JSON.stringify(body));
  if (payload) (opts.headers as Record<string, string>)['content-type'] = 'application/json';
  if (stream) (opts.headers as Record<string, string>)['content-type'] = 'application/x-tar';
  const lib = url.protocol === 'https:' ? https : http;
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = lib.request(url, opts, resolve);
    req.on('error', reject);
    if (stream) stream.pipe(req);
    else req.end(payload);
  });
  const code = res.statusCode ?? 0;
  if (code >= 200 && code < 300) return res;
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  let message = text;
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? text;
  } catch {
    // not a Status
  }
  throw new SubresourceError(code, message || `HTTP ${code}`);
}

export async function readAll(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
