/**
 * The image endpoints are Docker-shaped already on the node image API: they are forwarded to
 * `nodes/NODE/proxy/PATH` through the Berth API server (with the caller's X-Registry-Auth, never
 * logged), bodies streamed both ways. The API server's Status errors become Docker's {"message"}.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { nodeProxyPath, REGISTRY_AUTH_HEADER } from '../api/node-api.js';
import type { FrontContext } from './context.js';
import { sendJson } from './http.js';

const MAX_ERROR = 64 * 1024;

/** Sends METHOD nodes/NODE/proxy/PATH?query with `body`; resolves with the raw answer (any status). */
export function nodeRequest(ctx: FrontContext, method: string, path: string, query: URLSearchParams, o: { body?: Readable; contentType?: string; registryAuth?: string; node?: string } = {}): Promise<IncomingMessage> {
  const url = new URL(`${nodeProxyPath(o.node ?? ctx.nodeName, path)}${query.size ? `?${query.toString()}` : ''}`, ctx.conn.server);
  const headers: Record<string, string> = { ...(ctx.conn.options.headers as Record<string, string> | undefined), accept: 'application/json, */*' };
  if (o.contentType) headers['content-type'] = o.contentType;
  if (o.registryAuth) headers[REGISTRY_AUTH_HEADER] = o.registryAuth;
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(url, { ...ctx.conn.options, method, headers }, resolve);
    req.on('error', reject);
    if (o.body) o.body.pipe(req);
    else req.end();
  });
}

/** An answer of the node API relayed to the Docker client: the body as it comes, errors as {"message"}. */
export async function relay(up: IncomingMessage, res: ServerResponse, o: { status?: number } = {}): Promise<void> {
  const code = up.statusCode ?? 502;
  if (code >= 400) {
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of up) {
      if (n < MAX_ERROR) chunks.push(c as Buffer);
      n += (c as Buffer).length;
    }
    const text = Buffer.concat(chunks).toString('utf8').slice(0, MAX_ERROR);
    let message = text;
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? text;
    } catch {
      // plain text
    }
    sendJson(res, code, { message: message || `HTTP ${code}` });
    return;
  }
  const headers: Record<string, string> = {};
  const type = up.headers['content-type'];
  if (type) headers['content-type'] = type;
  res.writeHead(o.status ?? code, headers);
  res.flushHeaders();
  res.on('close', () => up.destroy());
  up.pipe(res);
  await new Promise<void>((resolve) => up.once('end', resolve).once('close', resolve));
}

export async function forwardToNode(ctx: FrontContext, req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams, o: { status?: number; node?: string; body?: boolean } = {}): Promise<void> {
  const registryAuth = req.headers[REGISTRY_AUTH_HEADER];
  const up = await nodeRequest(ctx, req.method ?? 'GET', path, query, {
    ...(o.body !== false && req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'DELETE' ? { body: req, contentType: req.headers['content-type'] ?? 'application/octet-stream' } : {}),
    ...(typeof registryAuth === 'string' ? { registryAuth } : {}),
    ...(o.node ? { node: o.node } : {}),
  });
  await relay(up, res, o);
}

export async function readNodeJson<T>(up: IncomingMessage): Promise<T> {
  const chunks: Buffer[] = [];
  for await (const c of up) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if ((up.statusCode ?? 500) >= 400) {
    let message = text;
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? text;
    } catch {
      // plain text
    }
    throw Object.assign(new Error(message), { status: up.statusCode });
  }
  return JSON.parse(text) as T;
}
