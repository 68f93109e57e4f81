import type { z } from 'zod';
import type { ApiObject } from './meta.js';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  /** 0 shows in `get`, >0 only with `-o wide`. */
  priority?: number;
}

/** Everything the API server, the store and the CRD generator need to know about one resource. */
export interface KindInfo {
  /** '' for the core group (Namespace, Event). */
  group: string;
  version: string;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  namespaced: boolean;
  /** Serve /status and keep status out of spec writes. */
  hasStatus: boolean;
  /** Whole-object schema (apiVersion, kind, metadata, spec, status). Strict: unknown fields are errors. */
  schema: z.ZodType;
  /** spec only, when the kind has one; used for generation bumps and docs. */
  specSchema?: z.ZodType;
  statusSchema?: z.ZodType;
  printerColumns: PrinterColumn[];
  /** Fill in defaults on a validated object; pure, returns a new object. */
  applyDefaults(obj: ApiObject): ApiObject;
  /** Field paths (beyond metadata.name / metadata.namespace) usable in fieldSelector. */
  selectableFields: string[];
  /** For server-side apply: list paths merged by key instead of replaced whole, e.g. { 'spec.env': ['name'] }. */
  listMapKeys: Record<string, string[]>;
  description: string;
}

export function apiVersionOf(k: Pick<KindInfo, 'group' | 'version'>): string {
  return k.group ? `${k.group}/${k.version}` : k.version;
}

/** The store's resource name: 'berth.dev/containers', 'core/namespaces'. */
export function resourceOf(k: Pick<KindInfo, 'group' | 'plural'>): string {
  return `${k.group || 'core'}/${k.plural}`;
}
