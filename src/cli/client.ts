import http from 'node:http';
import https from 'node:https';
import {
  ApiException,
  ApisApi,
  CoreV1Api,
  createConfiguration,
  CustomObjectsApi,
  HttpMethod,
  KubeConfig,
  KubernetesObjectApi,
  ServerConfiguration,
  Watch,
  type V1APIResource,
} from '@kubernetes/client-node';
import { CliError, isNotFound } from './errors.js';
import { findByKind, findResource, type ResourceRef } from './kinds.js';

export const TABLE_ACCEPT = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json';

export type Query = Record<string, string | number | boolean | undefined>;

export interface WatchHandlers {
  onEvent(type: string, object: Record<string, unknown>): void;
  /** The stream ended: err is undefined when the server closed it normally. */
  onDone(err: unknown): void;
}

/** Same config, with extra request headers; Watch only takes a KubeConfig, so this is how it asks for Tables. */
class KubeConfigWithHeaders extends KubeConfig {
  constructor(
    base: KubeConfig,
    private readonly extraHeaders: Record<string, string>,
  ) {
    super();
    this.loadFromOptions({ clusters: base.clusters, users: base.users, contexts: base.contexts, currentContext: base.currentContext });
  }

  override applyToFetchOptions(opts: https.RequestOptions) {
    return super.applyToFetchOptions({ ...opts, headers: { ...(opts.headers ?? {}), ...this.extraHeaders } });
  }
}

function resourceRefFrom(groupVersion: string, r: V1APIResource): ResourceRef {
  const slash = groupVersion.indexOf('/');
  return {
    group: slash < 0 ? '' : groupVersion.slice(0, slash),
    version: slash < 0 ? groupVersion : groupVersion.slice(slash + 1),
    kind: r.kind,
    plural: r.name,
    singular: r.singularName || r.kind.toLowerCase(),
    shortNames: r.shortNames ?? [],
    namespaced: r.namespaced,
  };
}

/**
 * A KubernetesObjectApi whose writes ask for fieldValidation=Strict, as kubectl does by default:
 * an unknown or duplicate field in a manifest is an error, not silently dropped.
 */
function strictObjectApi(kc: KubeConfig): KubernetesObjectApi {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new CliError('the kubeconfig has no current cluster');
  const writes = new Set<string>([HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH]);
  const config = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: kc },
    promiseMiddleware: [
      {
        pre: async (ctx) => {
          if (writes.has(ctx.getHttpMethod())) ctx.setQueryParam('fieldValidation', 'Strict');
          return ctx;
        },
        post: async (res) => res,
      },
    ],
  });
  return new KubernetesObjectApi(config);
}

/** The CLI's view of one API server: @kubernetes/client-node for objects and watches, plus raw GETs for Tables. */
export class BerthClient {
  readonly objects: KubernetesObjectApi;
  private discovered: ResourceRef[] | undefined;

  constructor(
    readonly kc: KubeConfig,
    /** Kinds the CLI knows without asking the server. */
    private readonly known: readonly ResourceRef[],
  ) {
    this.objects = strictObjectApi(kc);
  }

  /** A GET with the kubeconfig's credentials and TLS settings; non-2xx throws ApiException with the body. */
  async getJson<T>(path: string, query: Query = {}, accept = 'application/json'): Promise<T> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new CliError('the kubeconfig has no current cluster');
    const url = new URL(cluster.server.replace(/\/+$/, '') + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    const opts: https.RequestOptions = { method: 'GET', headers: { Accept: accept } };
    await this.kc.applyToHTTPSOptions(opts);
    const send = url.protocol === 'https:' ? https.request : http.request;
    const { status, headers, body } = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>(
      (resolve, reject) => {
        const req = send(url, opts, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end();
      },
    );
    if (status < 200 || status > 299) {
      const flat: Record<string, string> = {};
      for (const [k, v] of Object.entries(headers)) if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(', ') : v;
      throw new ApiException(status, `GET ${path}`, body, flat);
    }
    try {
      return JSON.parse(body) as T;
    } catch {
      throw new CliError(`GET ${path}: the server sent a response that is not JSON`);
    }
  }

  /** Streams watch events for a collection path (client-node Watch); stop with the returned controller. */
  async watch(path: string, query: Query, handlers: WatchHandlers, accept?: string): Promise<AbortController> {
    const config = accept ? new KubeConfigWithHeaders(this.kc, { Accept: accept }) : this.kc;
    return new Watch(config).watch(
      path,
      query,
      (type, object) => handlers.onEvent(type, object as Record<string, unknown>),
      (err) => handlers.onDone(err ?? undefined),
    );
  }

  /** All resources the server serves (one request per group), without subresources. */
  async discover(): Promise<ResourceRef[]> {
    if (this.discovered) return this.discovered;
    const out: ResourceRef[] = [];
    const core = await this.kc.makeApiClient(CoreV1Api).getAPIResources();
    for (const r of core.resources) if (!r.name.includes('/')) out.push(resourceRefFrom(core.groupVersion, r));
    const groups = await this.kc.makeApiClient(ApisApi).getAPIVersions();
    const custom = this.kc.makeApiClient(CustomObjectsApi);
    for (const g of groups.groups) {
      const version = g.preferredVersion?.version ?? g.versions[0]?.version;
      if (!version) continue;
      const list = await custom.getAPIResources({ group: g.name, version });
      for (const r of list.resources) if (!r.name.includes('/')) out.push(resourceRefFrom(list.groupVersion, r));
    }
    this.discovered = out;
    return out;
  }

  /** A KIND argument: the built-in kinds first, then the server's discovery. */
  async resolve(arg: string): Promise<ResourceRef> {
    const found = findResource(arg, this.known) ?? findResource(arg, await this.discover());
    if (!found) throw new CliError(`the server doesn't have a resource type "${arg}"`);
    return found;
  }

  /** The resource for a manifest's apiVersion + kind, or undefined when the server does not serve it. */
  async resolveKind(apiVersion: string, kind: string): Promise<ResourceRef | undefined> {
    return findByKind(apiVersion, kind, this.known) ?? findByKind(apiVersion, kind, await this.discover());
  }

  /** GET an object; undefined when it does not exist. */
  async readIfExists(ref: ResourceRef, namespace: string | undefined, name: string): Promise<Record<string, unknown> | undefined> {
    try {
      return (await this.objects.read({
        apiVersion: ref.group ? `${ref.group}/${ref.version}` : ref.version,
        kind: ref.kind,
        metadata: { name, ...(ref.namespaced && namespace ? { namespace } : {}) },
      })) as unknown as Record<string, unknown>;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }
}
