/** Query parameters of resource requests, checked and typed. */
import type { Request } from 'express';
import { parseFieldValidation, type FieldValidation } from './admission.js';
import type { IncludeObject } from './table.js';
import { errors } from './status.js';

export interface ResourceQuery {
  dryRun: boolean;
  fieldManager: string | undefined;
  fieldValidation: FieldValidation;
  force: boolean;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  watch: boolean;
  allowWatchBookmarks: boolean;
  timeoutSeconds?: number;
  includeObject: IncludeObject;
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
}

function one(req: Request, name: string): string | undefined {
  const v = req.query[name];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) return one({ query: { [name]: v[v.length - 1] } } as unknown as Request, name);
  if (typeof v !== 'string') throw errors.badRequest(`query parameter ${name} must be a string`);
  return v;
}

function bool(v: string | undefined): boolean {
  return v === 'true' || v === '1';
}

function nonNegativeInt(name: string, v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw errors.badRequest(`query parameter ${name} must be a non-negative integer, got "${v}"`);
  return Number(v);
}

export function parseQuery(req: Request): ResourceQuery {
  const dryRun = one(req, 'dryRun');
  if (dryRun !== undefined && dryRun !== '' && dryRun !== 'All') throw errors.badRequest(`dryRun must be "All", got "${dryRun}"`);
  const include = one(req, 'includeObject') ?? 'Metadata';
  if (include !== 'None' && include !== 'Metadata' && include !== 'Object') throw errors.badRequest(`includeObject must be None, Metadata or Object`);
  const policy = one(req, 'propagationPolicy');
  if (policy !== undefined && policy !== 'Background' && policy !== 'Foreground' && policy !== 'Orphan') {
    throw errors.badRequest(`propagationPolicy must be Background, Foreground or Orphan, got "${policy}"`);
  }
  const limit = nonNegativeInt('limit', one(req, 'limit'));
  const timeoutSeconds = nonNegativeInt('timeoutSeconds', one(req, 'timeoutSeconds'));
  const q: ResourceQuery = {
    dryRun: dryRun === 'All',
    fieldManager: one(req, 'fieldManager') || undefined,
    fieldValidation: parseFieldValidation(one(req, 'fieldValidation')),
    force: bool(one(req, 'force')),
    watch: bool(one(req, 'watch')),
    allowWatchBookmarks: bool(one(req, 'allowWatchBookmarks')),
    includeObject: include,
  };
  const set = <K extends keyof ResourceQuery>(k: K, v: ResourceQuery[K] | undefined) => {
    if (v !== undefined && v !== '') q[k] = v;
  };
  set('labelSelector', one(req, 'labelSelector'));
  set('fieldSelector', one(req, 'fieldSelector'));
  set('continue', one(req, 'continue'));
  set('resourceVersion', one(req, 'resourceVersion'));
  set('limit', limit && limit > 0 ? limit : undefined);
  set('timeoutSeconds', timeoutSeconds);
  set('propagationPolicy', policy as ResourceQuery['propagationPolicy']);
  return q;
}

/** The manager name Kubernetes derives from a User-Agent: the part before the first '/'. */
export function managerFromUserAgent(ua: string | undefined): string {
  const name = (ua ?? '').split('/')[0]!.trim();
  return name.slice(0, 128) || 'unknown';
}
