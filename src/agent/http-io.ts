/**
 * The agent endpoint's HTTP plumbing: JSON answers, errors as {message} with the status a
 * runtime error maps to, bounded request bodies (to memory or to a file), and Docker's JSON
 * progress stream whose headers go out with its first line, so that a failure before any
 * progress is still a proper HTTP error.
 */
import { createWriteStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RegistryAuthError, type JsonMessage } from '../api/node-api.js';
import { RegistryClientError, RuntimeError } from '../runtime/index.js';

/** A request the endpoint refuses: the status and a message naming what is wrong. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const badRequest = (message: string): HttpError => new HttpError(400, message);

export function send(res: ServerResponse, code: number, body: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/**
 * The HTTP status of an error: runtime errors by code; a registry that refused the credentials
 * (401/403) is a 403, so it is not taken for a failed login to the API itself; a registry that
 * cannot be reached is a 502.
 */
export function statusFor(e: unknown): number {
  if (e instanceof HttpError) return e.status;
  if (e instanceof RegistryAuthError) return 400;
  if (e instanceof RegistryClientError && (e.status === 401 || e.status === 403)) return 403;
  if (e instanceof RuntimeError) return { NotFound: 404, Conflict: 409, Invalid: 400, Unsafe: 400, Failed: 500 }[e.code];
  // a registry that cannot be reached (no such host, refused, reset): the upstream failed, not this node
  const code = (e as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return 502;
  return 500;
}

export function sendError(res: ServerResponse, e: unknown): void {
  send(res, statusFor(e), { message: e instanceof Error ? e.message : String(e) });
}

/** The request body as text, refused past `limit` bytes. */
export async function readBody(req: IncomingMessage, limit = 1 << 20): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > limit) throw new HttpError(413, `request body larger than ${limit} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A JSON object body (an empty body is {}), refused past `limit` bytes. */
export async function readJsonObject(req: IncomingMessage, limit = 64 * 1024): Promise<Record<string, unknown>> {
  const text = await readBody(req, limit);
  if (text.trim() === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw badRequest('body: not valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw badRequest('body: must be a JSON object');
  return v as Record<string, unknown>;
}

/** Writes the request body to `file`; past `limit` bytes the request fails with 413 (the caller removes the file). */
export async function receiveBody(req: IncomingMessage, file: string, limit: number): Promise<number> {
  let n = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      if (n > limit) cb(new HttpError(413, `request body larger than ${limit} bytes`));
      else cb(null, chunk);
    },
  });
  await pipeline(req, counter, createWriteStream(file, { mode: 0o600 }));
  return n;
}

/**
 * Reads and drops what is left of a request body (at most `limit` bytes), so that a refusal sent
 * before the body was read reaches a client that is still sending it.
 */
export async function drain(req: IncomingMessage, limit = 64 << 20): Promise<void> {
  if (req.readableEnded) return;
  let n = 0;
  try {
    for await (const c of req) {
      n += (c as Buffer).length;
      if (n > limit) {
        req.destroy();
        return;
      }
    }
  } catch {
    // the client went away
  }
}

/** Docker's JSON progress stream: one JSON object per line; headers are sent with the first line. */
export class JsonStream {
  constructor(private readonly res: ServerResponse) {}

  get started(): boolean {
    return this.res.headersSent;
  }

  write(msg: JsonMessage): void {
    if (this.res.writableEnded || this.res.destroyed) return;
    if (!this.res.headersSent) this.res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache' });
    this.res.write(`${JSON.stringify(msg)}\n`);
  }

  /** Ends the stream: an error becomes an HTTP error when nothing was sent yet, else Docker's error line. */
  end(e?: unknown): void {
    if (e !== undefined && !this.res.headersSent) return sendError(this.res, e);
    if (e !== undefined) {
      const message = e instanceof Error ? e.message : String(e);
      this.write({ errorDetail: { message }, error: message });
    }
    if (!this.res.headersSent) this.res.writeHead(200, { 'content-type': 'application/json' });
    this.res.end();
  }
}
