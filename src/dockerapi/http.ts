/**
 * The Docker Engine API's HTTP conventions: JSON answers, errors as {"message": ...} with Docker's
 * status codes, bounded JSON bodies, the headers docker clients read (Api-Version, Server, Ostype).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiStatusError } from '../client/api-client.js';
import { DockerError } from '../client/docker/names.js';
import { WaitTimeout } from '../client/docker/watch-until.js';
import { NodeApiError } from '../client/node-api.js';
import { RawRequestError } from '../client/raw-request.js';
import { TemplateError } from '../client/docker/template.js';

/** JSON bodies larger than this are refused (container create bodies are a few kB). */
export const MAX_JSON_BODY = 1 << 20;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(data.length) });
  res.end(data);
}

/** The status and message an error gets: Docker's codes for Docker errors, the API server's otherwise. */
export function errorAnswer(e: unknown): { status: number; message: string } {
  if (e instanceof HttpError || e instanceof DockerError) return { status: e.status, message: e.message };
  if (e instanceof ApiStatusError) {
    const code = e.code === 422 ? 400 : e.code;
    const causes = (e.status.details?.causes ?? []).filter((c) => c.message && !(e.status.message ?? '').includes(c.message)).map((c) => `${c.field ? `${c.field}: ` : ''}${c.message}`);
    return { status: code >= 400 && code < 600 ? code : 500, message: [e.message, ...causes].join('; ') };
  }
  if (e instanceof RawRequestError) return { status: e.code >= 400 && e.code < 600 ? e.code : 500, message: e.message };
  if (e instanceof NodeApiError || e instanceof TemplateError) return { status: 400, message: e.message };
  if (e instanceof WaitTimeout) return { status: 504, message: e.message };
  return { status: 500, message: e instanceof Error ? e.message : String(e) };
}

export function sendError(res: ServerResponse, e: unknown): void {
  const { status, message } = errorAnswer(e);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { message });
}

/** Reads a JSON body (empty: undefined); too large is a 413, not JSON a 400, both with Docker's message shape. */
export async function readJson(req: IncomingMessage, limit = MAX_JSON_BODY): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) {
    req.resume();
    throw new HttpError(413, `request body of ${declared} bytes is larger than the ${limit} bytes allowed`);
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > limit) throw new HttpError(413, `request body is larger than the ${limit} bytes allowed`);
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new HttpError(400, `invalid JSON: ${(e as Error).message}`);
  }
}

/** Go's strconv.ParseBool for query flags (1, t, true...), with a default. */
export function boolParam(q: URLSearchParams, name: string, fallback = false): boolean {
  const v = q.get(name);
  if (v === null || v === '') return fallback;
  if (/^(1|t|true)$/i.test(v)) return true;
  if (/^(0|f|false)$/i.test(v)) return false;
  throw new HttpError(400, `invalid value for ${name}: "${v}" is not a boolean`);
}

export function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw new HttpError(400, `invalid value for ${name}: "${v}" is not an integer`);
  return Number(v);
}
