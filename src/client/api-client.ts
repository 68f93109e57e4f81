/**
 * The one typed API client every role speaks through (agent, controllers, Docker front): get, list
 * (paged), create, replace, patch (merge, JSON, strategic, server-side apply; main resource or a
 * subresource), delete with propagation and preconditions, and watch, for any kind — berth.dev and
 * core alike. The transport is a client-node KubeConfig (kubeconfig.ts): HTTPS to any API server,
 * a real Kubernetes cluster included, or in-memory sockets into the API server of this process.
 * Answers are plain JSON (no client-side date conversion); failures are ApiStatusError carrying the
 * server's Status.
 */
import http, { type IncomingMessage } from 'node:http';
import https, { type RequestOptions } from 'node:https';
import {
  ApiStatusError,
  isNotFound,
  type DeleteOptions,
  type KObject,
  type ListOptions,
  type ObjectList,
  type PatchType,
  type ResourceType,
  type StatusBody,
  type WatchEventType,
  type WatchHandle,
  type WatchOptions,
  type WriteOptions,
} from './api-types.js';
import type { PooledKubeConfig } from './kubeconfig.js';
import { kubeConfigFromFile } from './kubeconfig.js';
import { decodeWatch } from './watch-stream.js';

export * from './api-types.js';

/** Longest response body read into memory. */
const MAX_BODY = 256 << 20;

const CONTENT_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

export function apiVersionOf(t: Pick<ResourceType, 'group' | 'version'>): string {
  return t.group ? `${t.group}/${t.version}` : t.version;
}

/** The REST path of a collection or an object, as Kubernetes lays them out. */
export function resourcePath(t: ResourceType, namespace?: string, name?: string, subresource?: string): string {
  const base = t.group ? `/apis/${t.group}/${t.version}` : `/api/${t.version}`;
  const ns = t.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const obj = name !== undefined ? `/${encodeURIComponent(name)}` : '';
  const sub = subresource ? `/${subresource}` : '';
  return `${base}${ns}/${t.plural}${obj}${sub}`;
}

type Query = Record<string, string | number | boolean | undefined>;

export class ApiClient {
  constructor(readonly kc: PooledKubeConfig) {}

  static fromFile(path: string): ApiClient {
    return new ApiClient(kubeConfigFromFile(path));
  }

  resource<T extends KObject = KObject>(type: ResourceType): ResourceClient<T> {
    return new ResourceClient<T>(this, type);
  }

  /** Closes kept-alive connections. */
  close(): void {
    this.kc.close();
  }

  private async options(method: string, headers: Record<string, string>): Promise<{ url: URL; opts: RequestOptions; send: typeof https.request }> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    const opts: RequestOptions = { method, headers: { ...headers } };
    await this.kc.applyToHTTPSOptions(opts);
    const url = new URL(cluster.server.replace(/\/+$/, ''));
    return { url, opts, send: url.protocol === 'https:' ? https.request : (http.request as typeof https.request) };
  }

  /** One request; resolves with the raw response (any status). */
  async raw(method: string, path: string, query: Query = {}, body?: { data: Buffer | string; contentType: string }, headers: Record<string, string> = {}): Promise<IncomingMessage> {
    // an explicit length: Node sends DELETE bodies unframed otherwise (no chunked encoding by default)
    const data = body === undefined ? undefined : Buffer.from(body.data);
    const framing: Record<string, string> = data ? { 'content-type': body!.contentType, 'content-length': String(data.length) } : {};
    const { url, opts, send } = await this.options(method, { accept: 'application/json', ...headers, ...framing });
    const target = new URL(url.pathname.replace(/\/+$/, '') + path, url);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) target.searchParams.set(k, String(v));
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = send(target, opts, resolve);
      req.on('error', reject);
      req.end(data);
    });
  }

  /** A JSON request: the parsed body on 2xx, else ApiStatusError with the server's Status. */
  async json<T>(method: string, path: string, query: Query = {}, body?: unknown, contentType = 'application/json'): Promise<T> {
    const payload = body === undefined ? undefined : { data: JSON.stringify(body), contentType };
    const res = await this.raw(method, path, query, payload);
    const text = await readBody(res, MAX_BODY);
    const code = res.statusCode ?? 0;
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (code >= 200 && code < 300) {
      if (parsed === undefined) throw new ApiStatusError(code, { message: `${method} ${path}: the server answered ${code} with a body that is not JSON` }, method);
      return parsed as T;
    }
    const status = (parsed && typeof parsed === 'object' ? parsed : { message: `${method} ${path}: HTTP ${code}${text ? `: ${text.slice(0, 500)}` : ''}` }) as StatusBody;
    throw new ApiStatusError(code, status, `${method} ${path}`);
  }

  /**
   * Streams watch events until stopped, the server ends the stream (onDone with no error: watch
   * again from the last resourceVersion) or it fails (onDone with the error; a 410 has code 410).
   */
  async watch(type: ResourceType, o: WatchOptions, onEvent: (type: WatchEventType, obj: KObject) => void, onDone: (err?: unknown) => void): Promise<WatchHandle> {
    const query: Query = {
      watch: 'true',
      resourceVersion: o.resourceVersion,
      labelSelector: o.labelSelector,
      fieldSelector: o.fieldSelector,
      allowWatchBookmarks: o.allowWatchBookmarks ? 'true' : undefined,
      timeoutSeconds: o.timeoutSeconds,
    };
    const res = await this.raw('GET', resourcePath(type, o.namespace), query);
    const code = res.statusCode ?? 0;
    if (code < 200 || code >= 300) {
      const text = await readBody(res, 1 << 20);
      let status: StatusBody = { message: text || `HTTP ${code}` };
      try {
        status = JSON.parse(text) as StatusBody;
      } catch {
        // not a Status
      }
      throw new ApiStatusError(code, status, `WATCH ${type.plural}`);
    }
    return decodeWatch(res, type.plural, onEvent, onDone);
  }
}

export class ResourceClient<T extends KObject = KObject> {
  constructor(
    readonly client: ApiClient,
    readonly type: ResourceType,
  ) {}

  private path(namespace?: string, name?: string, sub?: string): string {
    if (this.type.namespaced && name !== undefined && !namespace) throw new Error(`${this.type.kind} ${name}: a namespace is required`);
    return resourcePath(this.type, namespace, name, sub);
  }

  get(namespace: string | undefined, name: string): Promise<T> {
    return this.client.json<T>('GET', this.path(namespace, name));
  }

  /** Undefined for 404. */
  async getIfExists(namespace: string | undefined, name: string): Promise<T | undefined> {
    try {
      return await this.get(namespace, name);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  list(o: ListOptions = {}): Promise<ObjectList<T>> {
    return this.client.json<ObjectList<T>>('GET', this.path(o.namespace), {
      labelSelector: o.labelSelector,
      fieldSelector: o.fieldSelector,
      limit: o.limit,
      continue: o.continue,
      resourceVersion: o.resourceVersion,
    });
  }

  /** Every page of a list; the resourceVersion is the first page's (a consistent snapshot). */
  async listAll(o: Omit<ListOptions, 'continue'> = {}, pageSize = 500): Promise<ObjectList<T>> {
    const items: T[] = [];
    let page = await this.list({ ...o, limit: pageSize });
    const resourceVersion = page.metadata.resourceVersion;
    items.push(...page.items);
    while (page.metadata.continue) {
      page = await this.list({ ...o, limit: pageSize, continue: page.metadata.continue });
      items.push(...page.items);
    }
    return { items, metadata: { ...(resourceVersion !== undefined ? { resourceVersion } : {}) } };
  }

  create(namespace: string | undefined, body: object, o: WriteOptions = {}): Promise<T> {
    return this.client.json<T>('POST', this.path(namespace), writeQuery(o), { apiVersion: apiVersionOf(this.type), kind: this.type.kind, ...body });
  }

  replace(namespace: string | undefined, name: string, body: object, o: WriteOptions & { subresource?: string } = {}): Promise<T> {
    return this.client.json<T>('PUT', this.path(namespace, name, o.subresource), writeQuery(o), body);
  }

  patch(namespace: string | undefined, name: string, body: unknown, o: WriteOptions & { type?: PatchType; subresource?: string } = {}): Promise<T> {
    const type = o.type ?? 'merge';
    return this.client.json<T>('PATCH', this.path(namespace, name, o.subresource), writeQuery(o), body, CONTENT_TYPES[type]);
  }

  /** JSON merge patch of the status subresource: `{status}`; null removes a field. */
  patchStatus(namespace: string | undefined, name: string, status: Record<string, unknown>, o: WriteOptions = {}): Promise<T> {
    return this.patch(namespace, name, { status }, { ...o, type: 'merge', subresource: 'status' });
  }

  /** Server-side apply of a whole object under a field manager. */
  apply(obj: KObject, o: WriteOptions & { fieldManager: string; subresource?: string }): Promise<T> {
    return this.patch(obj.metadata.namespace, obj.metadata.name, { apiVersion: apiVersionOf(this.type), kind: this.type.kind, ...obj }, { ...o, type: 'apply' });
  }

  /** Resolves with the object when it is only marked for deletion (finalizers), undefined when gone. */
  async delete(namespace: string | undefined, name: string, o: DeleteOptions = {}): Promise<T | undefined> {
    const body = {
      kind: 'DeleteOptions',
      apiVersion: 'v1',
      ...(o.propagationPolicy ? { propagationPolicy: o.propagationPolicy } : {}),
      ...(o.preconditions ? { preconditions: o.preconditions } : {}),
      ...(o.dryRun ? { dryRun: ['All'] } : {}),
    };
    const out = await this.client.json<T | StatusBody>('DELETE', this.path(namespace, name), {}, body);
    return (out as StatusBody).kind === 'Status' ? undefined : (out as T);
  }

  watch(o: WatchOptions, onEvent: (type: WatchEventType, obj: T) => void, onDone: (err?: unknown) => void): Promise<WatchHandle> {
    return this.client.watch(this.type, o, onEvent as (type: WatchEventType, obj: KObject) => void, onDone);
  }
}

function writeQuery(o: WriteOptions): Query {
  return {
    fieldManager: o.fieldManager,
    dryRun: o.dryRun ? 'All' : undefined,
    force: o.force ? 'true' : undefined,
    fieldValidation: o.fieldValidation,
  };
}

export async function readBody(res: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    n += (c as Buffer).length;
    if (n > limit) {
      res.destroy();
      throw new Error(`response larger than ${limit} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
