import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { RuntimeError } from '../util/errors.js';
import type { Credentials } from './credentials.js';

export type Body = Buffer | (() => Readable);

export interface HttpResponse {
  status: number;
  headers: IncomingMessage['headers'];
  stream: IncomingMessage;
  url: string;
}

/** A registry's error reply, with the OCI error code when it sent one. */
export class RegistryClientError extends RuntimeError {
  constructor(
    message: string,
    readonly status: number,
    readonly ociCode?: string,
  ) {
    super(status === 404 ? 'NotFound' : status === 401 || status === 403 ? 'Invalid' : 'Failed', message);
  }
}

const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 16 });
const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 16 });
const insecureHttpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: false });

const caAgents = new Map<string, HttpsAgent>();

function agentFor(isHttps: boolean, insecure: boolean | undefined, ca: string | undefined): HttpAgent | HttpsAgent {
  if (!isHttps) return httpAgent;
  if (insecure) return insecureHttpsAgent;
  if (!ca) return httpsAgent;
  let a = caAgents.get(ca);
  if (!a) caAgents.set(ca, (a = new HttpsAgent({ keepAlive: true, maxSockets: 16, ca })));
  return a;
}

export function rawRequest(url: string, opts: { method?: string; headers?: Record<string, string>; body?: Body; insecure?: boolean; ca?: string }): Promise<HttpResponse> {
  const u = new URL(url);
  const isHttps = u.protocol === 'https:';
  const fn = isHttps ? httpsRequest : httpRequest;
  const agent = agentFor(isHttps, opts.insecure, opts.ca);
  return new Promise((resolve, reject) => {
    const req = fn(u, { method: opts.method ?? 'GET', headers: opts.headers, agent }, (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, stream: res, url }));
    req.on('error', reject);
    const body = opts.body;
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else {
      const s = body();
      s.on('error', (e) => req.destroy(e));
      s.pipe(req);
    }
  });
}

export async function readBody(res: HttpResponse, limit = 16 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.stream as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) {
      res.stream.destroy();
      throw new RegistryClientError(`${res.url}: response larger than ${limit} bytes`, res.status);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** Turns a non-success reply into an error carrying the registry's OCI error code and message. */
export async function failure(res: HttpResponse, what: string): Promise<RegistryClientError> {
  const text = (await readBody(res, 65536).catch(() => Buffer.alloc(0))).toString('utf8');
  let code: string | undefined;
  let message = text.trim().split('\n')[0] ?? '';
  try {
    const j = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> };
    const e = j.errors?.[0];
    if (e) {
      code = e.code;
      message = `${e.code ?? ''}: ${e.message ?? ''}`;
    }
  } catch {
    /* not JSON */
  }
  if (!message && res.status === 401) message = 'UNAUTHORIZED: authentication required (run berth login)';
  if (!message && res.status === 403) message = 'DENIED: requested access to the resource is denied';
  return new RegistryClientError(`${what}: HTTP ${res.status}${message ? ` ${message}` : ''}`, res.status, code);
}

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (!header) return undefined;
  const sp = header.indexOf(' ');
  const scheme = (sp < 0 ? header : header.slice(0, sp)).toLowerCase();
  const params: Record<string, string> = {};
  const re = /(\w+)="([^"]*)"|(\w+)=([^,\s]+)/g;
  for (let m; (m = re.exec(header.slice(sp + 1))); ) params[(m[1] ?? m[3]) as string] = (m[2] ?? m[4]) as string;
  return { scheme, params };
}

/**
 * One registry endpoint with Docker's auth flow: on a 401 Bearer challenge it fetches a token
 * for the challenged scope (plus the scopes this client was asked to hold) from the realm, with
 * basic credentials when it has them, and repeats the request; a Basic challenge gets basic auth.
 */
export class RegistryClient {
  private token: string | undefined;
  private basic = false;
  private readonly scopes = new Set<string>();

  constructor(
    readonly base: string,
    readonly opts: { credentials?: Credentials; insecure?: boolean; /** PEM CA bundle to verify the registry's certificate with. */ ca?: string } = {},
  ) {}

  /** Scopes to ask for in every token request (e.g. pull on a mount source). */
  addScope(scope: string): void {
    this.scopes.add(scope);
  }

  private authHeader(): Record<string, string> {
    if (this.token) return { authorization: `Bearer ${this.token}` };
    if (this.basic && this.opts.credentials) return { authorization: `Basic ${Buffer.from(`${this.opts.credentials.username}:${this.opts.credentials.password}`).toString('base64')}` };
    return {};
  }

  url(path: string): string {
    return new URL(path, this.base).toString();
  }

  async request(path: string, opts: { method?: string; headers?: Record<string, string>; body?: Body } = {}): Promise<HttpResponse> {
    const url = this.url(path);
    const send = (): Promise<HttpResponse> => rawRequest(url, { ...opts, headers: { ...opts.headers, ...this.authHeader() }, insecure: this.opts.insecure, ca: this.opts.ca });
    let res = await send();
    if (res.status !== 401) return res;
    const ch = parseChallenge(res.headers['www-authenticate']);
    res.stream.resume();
    if (!ch) return send();
    if (ch.scheme === 'basic') {
      if (!this.opts.credentials || this.basic) throw new RegistryClientError(`${url}: authentication required (no credentials; run berth login)`, 401, 'UNAUTHORIZED');
      this.basic = true;
    } else if (ch.scheme === 'bearer') {
      await this.fetchToken(ch.params);
    }
    res = await send();
    return res;
  }

  private async fetchToken(p: Record<string, string>): Promise<void> {
    if (!p.realm) throw new RegistryClientError(`${this.base}: Bearer challenge without a realm`, 401);
    const u = new URL(p.realm);
    if (p.service) u.searchParams.set('service', p.service);
    // scopes accumulate, so a new token keeps what the earlier ones granted
    if (p.scope) for (const s of p.scope.split(' ')) this.scopes.add(s);
    for (const s of this.scopes) u.searchParams.append('scope', s);
    const c = this.opts.credentials;
    if (c) u.searchParams.set('account', c.username);
    const headers: Record<string, string> = c ? { authorization: `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` } : {};
    const res = await rawRequest(u.toString(), { headers, insecure: this.opts.insecure, ca: this.opts.ca });
    if (res.status !== 200) throw await failure(res, `token from ${p.realm}${c ? '' : ' (anonymous; run berth login for credentials)'}`);
    const j = JSON.parse((await readBody(res, 1024 * 1024)).toString('utf8')) as { token?: string; access_token?: string };
    this.token = j.token ?? j.access_token;
    if (!this.token) throw new RegistryClientError(`token from ${p.realm}: no token in the reply`, 401);
  }

  /** GET /v2/: checks that the endpoint is a registry and the credentials (if any) are accepted. */
  async ping(): Promise<void> {
    const res = await this.request('/v2/');
    if (res.status !== 200) throw await failure(res, `${this.base}/v2/`);
    res.stream.resume();
  }
}
