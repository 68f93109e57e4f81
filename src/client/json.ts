/** JSON helpers the API's clients share: deep equality, merge-patch bodies, timestamps. */

/** Merge-patch body turning `current` into `desired` at the top level: fields missing from desired become null. */
export function mergePatchFor(current: Record<string, unknown> | undefined, desired: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...desired };
  for (const k of Object.keys(current ?? {})) if (!(k in desired)) out[k] = null;
  return out;
}

/** Deep equality for JSON values (key order ignored, undefined members ignored). */
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

/** RFC 3339 to the second, as Kubernetes writes condition times. */
export const nowRfc3339 = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
