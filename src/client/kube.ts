/**
 * A small typed face over @kubernetes/client-node for the berth.dev kinds: get, list, merge-patch of
 * metadata and of the status subresource, create. Everything the agent and controllers say to the
 * API goes through here, so they run unchanged against a real Kubernetes cluster with the CRDs.
 */
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type CoreV1Event,
} from '@kubernetes/client-node';
import { PooledKubeConfig } from './pooled-kubeconfig.js';

export const GROUP = 'berth.dev';
export const VERSION = 'v1alpha1';

/** The shape of every berth object as the agent sees it. */
export interface KObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string | Date;
    deletionTimestamp?: string | Date;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    finalizers?: string[];
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export function statusCodeOf(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const c = (err as { code?: unknown; statusCode?: unknown })?.code ?? (err as { statusCode?: unknown })?.statusCode;
  return typeof c === 'number' ? c : undefined;
}

export const isNotFound = (err: unknown): boolean => statusCodeOf(err) === 404;
export const isConflict = (err: unknown): boolean => statusCodeOf(err) === 409;

export class KubeClient {
  readonly custom: CustomObjectsApi;
  readonly core: CoreV1Api;

  constructor(readonly kc: KubeConfig) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.core = kc.makeApiClient(CoreV1Api);
  }

  static fromFile(path: string): KubeClient {
    const kc = new PooledKubeConfig();
    kc.loadFromFile(path);
    return new KubeClient(kc);
  }

  async list(plural: string, opts: { namespace?: string; fieldSelector?: string; labelSelector?: string } = {}): Promise<{ items: KObject[]; metadata?: { resourceVersion?: string } }> {
    const common = { group: GROUP, version: VERSION, plural, fieldSelector: opts.fieldSelector, labelSelector: opts.labelSelector };
    const res: unknown = opts.namespace
      ? await this.custom.listNamespacedCustomObject({ ...common, namespace: opts.namespace })
      : await this.custom.listClusterCustomObject(common);
    return res as { items: KObject[] };
  }

  async get(plural: string, namespace: string | undefined, name: string): Promise<KObject> {
    const res: unknown = namespace
      ? await this.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural, namespace, name })
      : await this.custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural, name });
    return res as KObject;
  }

  async create(plural: string, namespace: string | undefined, body: object): Promise<KObject> {
    const res: unknown = namespace
      ? await this.custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, plural, namespace, body })
      : await this.custom.createClusterCustomObject({ group: GROUP, version: VERSION, plural, body });
    return res as KObject;
  }

  /** JSON merge patch of the object itself (metadata, spec). */
  async patch(plural: string, namespace: string | undefined, name: string, body: object): Promise<KObject> {
    const res: unknown = namespace
      ? await this.custom.patchNamespacedCustomObject({ group: GROUP, version: VERSION, plural, namespace, name, body }, mergePatch)
      : await this.custom.patchClusterCustomObject({ group: GROUP, version: VERSION, plural, name, body }, mergePatch);
    return res as KObject;
  }

  /** JSON merge patch of the status subresource: `{status: {...}}`; null removes a field. */
  async patchStatus(plural: string, namespace: string | undefined, name: string, status: Record<string, unknown>): Promise<KObject> {
    const body = { status };
    const res: unknown = namespace
      ? await this.custom.patchNamespacedCustomObjectStatus({ group: GROUP, version: VERSION, plural, namespace, name, body }, mergePatch)
      : await this.custom.patchClusterCustomObjectStatus({ group: GROUP, version: VERSION, plural, name, body }, mergePatch);
    return res as KObject;
  }

  createEvent(namespace: string, body: CoreV1Event): Promise<CoreV1Event> {
    return this.core.createNamespacedEvent({ namespace, body });
  }

  patchEvent(namespace: string, name: string, body: object): Promise<CoreV1Event> {
    return this.core.patchNamespacedEvent({ namespace, name, body }, mergePatch);
  }
}

/** Merge-patch body turning `current` into `desired` at the top level: fields missing from desired become null. */
export function mergePatchFor(current: Record<string, unknown> | undefined, desired: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...desired };
  for (const k of Object.keys(current ?? {})) if (!(k in desired)) out[k] = null;
  return out;
}

/** Deep equality for JSON values (key order ignored). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => jsonEqual(v, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => jsonEqual(ao[k], bo[k]));
}

export function isoTime(t: string | Date | undefined): string | undefined {
  if (t === undefined) return undefined;
  return t instanceof Date ? t.toISOString() : t;
}
