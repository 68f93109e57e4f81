/**
 * ObjectMeta rules every kind shares, as Kubernetes' apimachinery validation has them: label keys
 * and values, annotation keys and their total size, finalizer names, generateName; what may not
 * change on an update (name, uid, creationTimestamp); and the canonical form of metadata (no empty
 * labels, annotations, finalizers or ownerReferences: Kubernetes omits them, so `kubectl diff`
 * of an unchanged manifest finds nothing). The registry (resources.ts) calls these for every kind,
 * before and after the kind's own strategy.
 */
import type { ApiObject } from '../api/meta.js';
import { isObject, type JsonObject } from './objects.js';
import type { StatusCause } from './status.js';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
/** Kubernetes' TotalAnnotationSizeLimitB: keys and values together. */
export const MAX_ANNOTATIONS_BYTES = 256 * 1024;

/** Why `key` is not a qualified name ([DNS subdomain prefix/]name, name ≤ 63), or undefined. */
export function qualifiedNameProblem(key: string): string | undefined {
  if (key === '') return 'name part must be non-empty';
  const parts = key.split('/');
  if (parts.length > 2) return "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, with an optional DNS subdomain prefix and '/' (e.g. 'MyName', 'my.name', or 'example.com/MyName')";
  const [prefix, name] = parts.length === 2 ? [parts[0]!, parts[1]!] : [undefined, parts[0]!];
  if (prefix !== undefined) {
    if (prefix === '') return 'prefix part must be non-empty';
    if (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)) return `prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')`;
  }
  if (name === '') return 'name part must be non-empty';
  if (name.length > 63) return 'name part must be no more than 63 characters';
  if (!QUALIFIED_NAME.test(name)) {
    return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName', or 'my.name', or '123-abc')";
  }
  return undefined;
}

export function labelValueProblem(value: string): string | undefined {
  if (value.length > 63) return 'must be no more than 63 characters';
  if (!LABEL_VALUE.test(value)) return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue', or 'my_value', or '12345')";
  return undefined;
}

const show = (s: string): string => JSON.stringify(s);

/** Causes for labels, annotations, finalizers and generateName of a validated object's metadata. */
export function objectMetaCauses(obj: ApiObject): StatusCause[] {
  const m = obj.metadata;
  const causes: StatusCause[] = [];
  for (const [k, v] of Object.entries(m.labels ?? {})) {
    const kp = qualifiedNameProblem(k);
    if (kp) causes.push({ reason: 'FieldValueInvalid', field: 'metadata.labels', message: `Invalid value: ${show(k)}: ${kp}` });
    const vp = labelValueProblem(v);
    if (vp) causes.push({ reason: 'FieldValueInvalid', field: `metadata.labels`, message: `Invalid value: ${show(v)}: ${vp}` });
  }
  let size = 0;
  for (const [k, v] of Object.entries(m.annotations ?? {})) {
    const kp = qualifiedNameProblem(k.toLowerCase());
    if (kp) causes.push({ reason: 'FieldValueInvalid', field: 'metadata.annotations', message: `Invalid value: ${show(k)}: ${kp}` });
    size += Buffer.byteLength(k) + Buffer.byteLength(v);
  }
  if (size > MAX_ANNOTATIONS_BYTES) {
    causes.push({ reason: 'FieldValueTooLong', field: 'metadata.annotations', message: `Too long: must have at most ${MAX_ANNOTATIONS_BYTES} bytes` });
  }
  (m.finalizers ?? []).forEach((f, i) => {
    const p = qualifiedNameProblem(f);
    if (p) causes.push({ reason: 'FieldValueInvalid', field: `metadata.finalizers[${i}]`, message: `Invalid value: ${show(f)}: ${p}` });
  });
  if (typeof m.generateName === 'string' && m.generateName !== '') {
    // the prefix plus a suffix must make a valid name: test it with one
    const candidate = `${m.generateName}x`;
    if (candidate.length > 253 || !DNS_SUBDOMAIN.test(candidate)) {
      causes.push({ reason: 'FieldValueInvalid', field: 'metadata.generateName', message: `Invalid value: ${show(m.generateName)}: a prefix of a lowercase RFC 1123 subdomain` });
    }
  }
  return causes;
}

/** The instant a timestamp names, or undefined when it names none. */
function instant(v: unknown): number | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? Number.NaN : t;
}

/**
 * What an update may not change in metadata, compared before the server puts back its own values:
 * a uid that differs is a failed precondition (409, as Kubernetes answers); a name or
 * creationTimestamp that differs is 422. Unset (or null) fields are taken from the stored object.
 */
export function immutableMetaProblems(next: JsonObject, old: ApiObject): { uidConflict?: string; causes: StatusCause[] } {
  const m = isObject(next.metadata) ? next.metadata : {};
  const causes: StatusCause[] = [];
  let uidConflict: string | undefined;
  if (m.uid !== undefined && m.uid !== null && m.uid !== '' && m.uid !== old.metadata.uid) {
    uidConflict = `Precondition failed: UID in precondition: ${String(m.uid)}, UID in object meta: ${old.metadata.uid ?? ''}`;
  }
  if (m.name !== undefined && m.name !== old.metadata.name) {
    causes.push({ reason: 'FieldValueInvalid', field: 'metadata.name', message: `Invalid value: ${show(String(m.name))}: field is immutable` });
  }
  const given = instant(m.creationTimestamp);
  if (given !== undefined && given !== instant(old.metadata.creationTimestamp)) {
    causes.push({ reason: 'FieldValueInvalid', field: 'metadata.creationTimestamp', message: `Invalid value: ${show(String(m.creationTimestamp))}: field is immutable` });
  }
  return { ...(uidConflict ? { uidConflict } : {}), causes };
}

/** Metadata as Kubernetes stores it: empty maps and lists are left out. Mutates `obj`. */
export function canonicalizeMeta(obj: ApiObject): void {
  const m = obj.metadata as JsonObject;
  for (const key of ['labels', 'annotations'] as const) {
    if (isObject(m[key]) && Object.keys(m[key]).length === 0) delete m[key];
  }
  for (const key of ['finalizers', 'ownerReferences'] as const) {
    if (Array.isArray(m[key]) && m[key].length === 0) delete m[key];
  }
  if (m.generateName === '') delete m.generateName;
}

/** Why a path segment cannot be a name at all (Kubernetes' IsValidPathSegmentName, and no controls). */
export function pathSegmentProblem(segment: string): string | undefined {
  if (segment === '.' || segment === '..') return `may not be '${segment}'`;
  if (segment.includes('/')) return "may not contain '/'";
  if (segment.includes('%')) return "may not contain '%'";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(segment)) return 'may not contain control characters';
  if (segment.length > 253) return 'must be no more than 253 characters';
  return undefined;
}
