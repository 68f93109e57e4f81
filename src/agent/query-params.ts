/**
 * Query parameters of the node image API, read the way dockerd reads them (booleans as
 * 1/true/0/false, repeated parameters, JSON `filters`) and refused with a 400 naming the
 * parameter when malformed.
 */
import { parseImageRef } from '../api/imageref.js';
import { normaliseTaggedName, RuntimeError } from '../runtime/index.js';
import { badRequest } from './http-io.js';

const MAX_VALUE = 64 * 1024;

export class Query {
  constructor(private readonly q: URLSearchParams) {}

  /** A single value; refused when repeated or too long. */
  string(name: string): string | undefined {
    const all = this.q.getAll(name);
    if (all.length === 0) return undefined;
    if (all.length > 1) throw badRequest(`${name}: given ${all.length} times, takes one value`);
    const v = all[0]!;
    if (v.length > MAX_VALUE) throw badRequest(`${name}: longer than ${MAX_VALUE} characters`);
    return v;
  }

  required(name: string): string {
    const v = this.string(name);
    if (v === undefined || v === '') throw badRequest(`${name}: required`);
    return v;
  }

  bool(name: string, fallback = false): boolean {
    const v = this.string(name);
    if (v === undefined || v === '') return fallback;
    if (v === '1' || v === 'true' || v === 'True') return true;
    if (v === '0' || v === 'false' || v === 'False') return false;
    throw badRequest(`${name}: "${v}" is not a boolean (1, true, 0 or false)`);
  }

  int(name: string, min: number, max: number): number | undefined {
    const v = this.string(name);
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) throw badRequest(`${name}: "${v}" is not an integer from ${min} to ${max}`);
    return n;
  }

  /** A repeated parameter (Docker's `changes`, `names`). */
  list(name: string, maxItems: number): string[] {
    const all = this.q.getAll(name);
    if (all.length > maxItems) throw badRequest(`${name}: more than ${maxItems} values`);
    for (const v of all) if (v.length > MAX_VALUE) throw badRequest(`${name}: a value is longer than ${MAX_VALUE} characters`);
    return all;
  }
}

const IMAGE_ID = /^(?:sha256:)?[a-f0-9]{4,64}$/;

/** An image as a path names it: a reference or an ID (or a unique ID prefix). */
export function imageName(name: string, field = 'name'): string {
  if (name.length === 0) throw badRequest(`${field}: required`);
  if (IMAGE_ID.test(name) || parseImageRef(name) !== undefined) return name;
  throw badRequest(`${field}: "${name.slice(0, 300)}" is not an image name or ID`);
}

/** "repo" with an optional "tag" (Docker's commit, import and tag take them apart) as one name:tag, validated. */
export function targetName(repo: string, tag: string | undefined, field = 'repo'): string {
  if (tag !== undefined && tag !== '' && !/^[\w][\w.-]{0,127}$/.test(tag)) throw badRequest(`tag: "${tag.slice(0, 300)}" is not a valid tag`);
  const ref = tag ? `${repo}:${tag}` : repo;
  try {
    return normaliseTaggedName(ref, field);
  } catch (e) {
    throw e instanceof RuntimeError ? badRequest(e.message) : e;
  }
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A Container object named as NAMESPACE/NAME. */
export function containerKey(v: string, field = 'container'): { namespace: string; name: string } {
  const i = v.indexOf('/');
  const namespace = i < 0 ? '' : v.slice(0, i);
  const name = i < 0 ? '' : v.slice(i + 1);
  if (!DNS_LABEL.test(namespace) || namespace.length > 63 || !DNS_SUBDOMAIN.test(name) || name.length > 253) {
    throw badRequest(`${field}: "${v.slice(0, 300)}" is not NAMESPACE/NAME of a Container`);
  }
  return { namespace, name };
}

/** Docker's `filters`: a JSON object of key to values, as a list (["a"]) or a set ({"a": true}). */
export function parseFilters(raw: string | undefined, allowed: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (raw === undefined || raw === '') return out;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw badRequest('filters: not valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw badRequest('filters: must be a JSON object of filter names to values');
  for (const [key, values] of Object.entries(v as Record<string, unknown>)) {
    if (!allowed.includes(key)) throw badRequest(`filters: invalid filter "${key}" (this path takes ${allowed.join(', ')})`);
    let list: unknown[];
    if (Array.isArray(values)) list = values;
    else if (typeof values === 'object' && values !== null) list = Object.entries(values as Record<string, unknown>).filter(([, on]) => on === true).map(([k]) => k);
    else throw badRequest(`filters: "${key}" must be a list of strings`);
    if (!list.every((x): x is string => typeof x === 'string')) throw badRequest(`filters: "${key}" must be a list of strings`);
    out.set(key, list);
  }
  return out;
}
