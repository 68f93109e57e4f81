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
import type { PooledKubeConfig } from './kubeconfig.js';
import { kubeConfigFromFile } from './kubeconfig.js';

/** What the client needs to know of a kind to reach it (KindInfo from src/api fits). */
export interface ResourceType {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

/** The shape of every object as clients see it; kinds narrow spec and status. */
export interface KObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    generateName?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    finalizers?: string[];
    ownerReferences?: OwnerReference[];
    managedFields?: unknown[];
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  [extra: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
}

export interface ObjectList<T> {
  items: T[];
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
}

export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';

export interface WriteOptions {
  fieldManager?: string;
  dryRun?: boolean;
  /** Server-side apply: take fields other managers own. */
  force?: boolean;
  fieldValidation?: 'Strict' | 'Warn' | 'Ignore';
}

export interface DeleteOptions {
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

export interface WatchOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  allowWatchBookmarks?: boolean;
  timeoutSeconds?: number;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchHandle {
  /** Stops the watch; onDone is then called with no error. */
  stop(): void;
}

/** The API server's Status for a failed request. */
export interface StatusBody {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; kind?: string; causes?: { reason?: string; message?: string; field?: string }[] };
}

export class ApiStatusError extends Error {
  constructor(
    readonly code: number,
    readonly status: StatusBody,
    readonly verb: string,
  ) {
    super(status.message ?? `${verb}: HTTP ${code}`);
  }

  get reason(): string | undefined {
    return this.status.reason;
  }
}

export function statusCodeOf(err: unknown): number | undefined {
  const c = (err as { code?: unknown; statusCode?: unknown } | undefined)?.code ?? (err as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof c === 'number' ? c : undefined;
}

export const isNotFound = (err: unknown): boolean => statusCodeOf(err) === 404;
export const isConflict = (err: unknown): boolean => statusCodeOf(err) === 409;
export const isGone = (err: unknown): boolean => statusCodeOf(err) === 410;

/** Longest watch line (one object) accepted: a bound on what one event may make the client hold. */
const MAX_WATCH_LINE = 16 << 20;
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
    let stopped = false;
    let finished = false;
    const finish = (err?: unknown) => {
      if (finished) return;
      finished = true;
      onDone(stopped ? undefined : err);
    };
    let buffered = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_WATCH_LINE) {
        res.destroy(new Error(`watch ${type.plural}: an event is larger than ${MAX_WATCH_LINE} bytes`));
        return;
      }
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (!line || finished) continue;
        let ev: { type: WatchEventType; object: KObject };
        try {
          ev = JSON.parse(line) as { type: WatchEventType; object: KObject };
        } catch {
          res.destroy(new Error(`watch ${type.plural}: the server sent a line that is not JSON`));
          return;
        }
        if (ev.type === 'ERROR') {
          const st = ev.object as unknown as StatusBody;
          res.destroy();
          finish(new ApiStatusError(st.code ?? 500, st, `WATCH ${type.plural}`));
          return;
        }
        onEvent(ev.type, ev.object);
      }
    });
    res.on('end', () => finish());
    res.on('error', (err) => finish(err));
    res.on('close', () => finish(stopped ? undefined : new Error(`watch ${type.plural}: connection closed`)));
    return {
      stop() {
        stopped = true;
        res.destroy();
      },
    };
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
