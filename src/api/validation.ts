import type { z } from 'zod';
import type { KindInfo } from './kind.js';
import type { ApiObject } from './meta.js';
import type { CauseReason } from './fields.js';

/** One entry of a Status's details.causes, as Kubernetes reports a 422. */
export interface StatusCause {
  reason: CauseReason;
  message: string;
  /** Path of the offending field: `spec.volumeMounts[0].mountPath`. */
  field: string;
}

const identifier = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** ['spec', 'env', 0, 'name'] -> 'spec.env[0].name'; keys that are not identifiers use [key]. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const s = String(seg);
      if (identifier.test(s)) out += out ? `.${s}` : s;
      else out += `[${s}]`;
    }
  }
  return out;
}

/** True for a missing required field. Issues carry `input` only when parsed with reportInput. */
function isMissing(issue: z.core.$ZodIssue): boolean {
  if (issue.code !== 'invalid_type') return false;
  if ('input' in issue) return issue.input === undefined;
  return issue.message.endsWith('received undefined');
}

function reasonOf(issue: z.core.$ZodIssue): CauseReason {
  switch (issue.code) {
    case 'invalid_type':
      return isMissing(issue) ? 'FieldValueRequired' : 'FieldValueInvalid';
    case 'invalid_value':
      return 'FieldValueNotSupported';
    case 'too_big':
      return issue.origin === 'array' || issue.origin === 'set' ? 'FieldValueTooMany' : issue.origin === 'string' ? 'FieldValueTooLong' : 'FieldValueInvalid';
    case 'custom': {
      const r = (issue.params as { reason?: CauseReason } | undefined)?.reason;
      return r ?? 'FieldValueInvalid';
    }
    default:
      return 'FieldValueInvalid';
  }
}

function messageOf(issue: z.core.$ZodIssue): string {
  if (isMissing(issue)) return 'Required value';
  return issue.message;
}

/**
 * zod issues as Status causes; an unknown key becomes one cause per key, naming the key's path.
 * Identical causes (same field and message) are reported once.
 */
export function issuesToCauses(issues: readonly z.core.$ZodIssue[]): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        causes.push({
          reason: 'FieldValueInvalid',
          message: `unknown field "${key}"`,
          field: fieldPath([...issue.path, key]),
        });
      }
    } else {
      causes.push({ reason: reasonOf(issue), message: messageOf(issue), field: fieldPath(issue.path) });
    }
  }
  const seen = new Set<string>();
  return causes.filter((c) => {
    const id = `${c.field}\0${c.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

export type ValidationResult = { ok: true; object: ApiObject } | { ok: false; causes: StatusCause[] };

/** Validates a whole object against its kind and applies defaults. */
export function validateObject(kind: KindInfo, obj: unknown): ValidationResult {
  const r = kind.schema.safeParse(obj);
  if (!r.success) return { ok: false, causes: issuesToCauses(r.error.issues) };
  return { ok: true, object: r.data as ApiObject };
}

/** `spec.image: Invalid input...; spec.ports[0].protocol: ...`, for logs and CLI output. */
export function formatCauses(causes: readonly StatusCause[]): string {
  return causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message)).join('; ');
}
