/**
 * One HTTP(S) request to the API server with given credentials, answering the raw response:
 * for streams (logs, builds) and bodies that are not JSON objects (tar archives).
 */
import http, { type IncomingMessage } from 'node:http';
import https, { type RequestOptions } from 'node:https';
import { Readable } from 'node:stream';

/** Where the API server is and how to authenticate: TLS settings and headers, as https.request takes them. */
export interface RawConnection {
  server: string;
  options: RequestOptions;
}

export class RawRequestError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** Sends the request (a JSON body, or a stream sent as a tar); resolves with a 2xx response, else rejects with the Status message. */
export async function rawRequest(
  conn: RawConnection,
  method: string,
  path: string,
  query: Record<string, string | number | boolean | undefined> = {},
  body?: unknown,
): Promise<IncomingMessage> {
  const stream = body instanceof Readable ? body : undefined;
  const url = new URL(path, conn.server);
  for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
  const payload = body === undefined || stream ? undefined : Buffer.from(JSON.stringify(body));
  const headers: Record<string, string> = { ...(conn.options.headers as Record<string, string> | undefined), accept: 'application/json, */*' };
  if (payload) headers['content-type'] = 'application/json';
  if (stream) headers['content-type'] = 'application/x-tar';
  const lib = url.protocol === 'https:' ? https : http;
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = lib.request(url, { ...conn.options, method, headers }, resolve);
    req.on('error', reject);
    if (stream) stream.pipe(req);
    else req.end(payload);
  });
  const code = res.statusCode ?? 0;
  if (code >= 200 && code < 300) return res;
  const text = await readAll(res);
  let message = text;
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? text;
  } catch {
    // not a Status
  }
  throw new RawRequestError(code, message || `HTTP ${code}`);
}

export async function readAll(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
