import { V1MicroTime } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { CliError } from '../errors.js';
import { qualifiedKind, type ResourceRef } from '../kinds.js';

export type PlainObject = Record<string, unknown>;

/**
 * Back to the JSON the server sent: client-node turns metadata times into Date objects; Kubernetes
 * writes metav1.Time as RFC 3339 with whole seconds (MicroTime keeps its microseconds).
 */
export function toPlain(value: unknown): unknown {
  if (value instanceof V1MicroTime) return value.toISOString();
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString().replace(/\.000Z$/, 'Z');
  if (Array.isArray(value)) return value.map(toPlain);
  if (value && typeof value === 'object') {
    const out: PlainObject = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toPlain(v);
    return out;
  }
  return value;
}

export function toPlainObject(value: unknown): PlainObject {
  return toPlain(value) as PlainObject;
}

export type ObjectFormat = 'yaml' | 'json' | 'name';

export function parseObjectFormat(output: string | undefined, allowed: readonly string[]): string {
  const o = output ?? '';
  if (!allowed.includes(o)) {
    throw new CliError(`unable to match a printer suitable for the output format "${o}", allowed formats are: ${allowed.filter((a) => a).join(',')}`);
  }
  return o;
}

/**
 * kubectl's layout (sequences not indented under their key). Written with YAML 1.1 quoting, so
 * strings such as timestamps, yes/no and on/off stay strings for 1.1 readers like kubectl.
 */
export function toYaml(obj: unknown): string {
  return stringify(obj, { version: '1.1', indentSeq: false, lineWidth: 0, aliasDuplicateObjects: false });
}

export function toJson(obj: unknown): string {
  return `${JSON.stringify(obj, null, 4)}\n`;
}

/** Several objects print as one `kind: List`, as kubectl does. */
export function asList(items: readonly PlainObject[]): PlainObject {
  return { apiVersion: 'v1', items, kind: 'List', metadata: { resourceVersion: '' } };
}

/** Items of a list response lack apiVersion and kind; put them back for printing. */
export function withTypeMeta(obj: PlainObject, ref: Pick<ResourceRef, 'group' | 'version' | 'kind'>): PlainObject {
  const apiVersion = ref.group ? `${ref.group}/${ref.version}` : ref.version;
  return { apiVersion: obj.apiVersion ?? apiVersion, kind: obj.kind ?? ref.kind, ...obj };
}

export function nameOf(obj: PlainObject): string {
  const meta = obj.metadata as { name?: unknown } | undefined;
  return typeof meta?.name === 'string' ? meta.name : '';
}

/** `container.berth.dev/web`. */
export function objectName(ref: Pick<ResourceRef, 'group' | 'kind'>, name: string): string {
  return `${qualifiedKind(ref)}/${name}`;
}

/** Prints objects as yaml, json (a List for several unless `single`), or name lines. */
export function formatObjects(
  objs: readonly PlainObject[],
  format: ObjectFormat,
  refOf: (obj: PlainObject) => Pick<ResourceRef, 'group' | 'kind'>,
  single: boolean,
): string {
  if (format === 'name') return objs.map((o) => `${objectName(refOf(o), nameOf(o))}\n`).join('');
  const body = single && objs.length === 1 ? objs[0] : asList(objs);
  return format === 'yaml' ? toYaml(body) : toJson(body);
}
