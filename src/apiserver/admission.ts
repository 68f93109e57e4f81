import type { KindInfo } from '../api/kind.js';
import type { ApiObject } from '../api/meta.js';
import { fieldPath, issuesToCauses } from '../api/validation.js';
import { clone, isObject } from './objects.js';
import { errors } from './status.js';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

export function parseFieldValidation(v: unknown): FieldValidation {
  if (v === undefined || v === '') return 'Warn';
  if (v === 'Strict' || v === 'Warn' || v === 'Ignore') return v;
  throw errors.badRequest(`fieldValidation must be one of Strict, Warn or Ignore, got "${String(v)}"`);
}

interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  keys?: string[];
}

function deleteAt(obj: unknown, path: PropertyKey[], key: string): void {
  let cur: unknown = obj;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  if (isObject(cur)) delete cur[key];
}

/**
 * Validates an object against its kind's schema and fills in defaults.
 * Unknown fields: Strict rejects with 400 naming each; Warn/Ignore drop them (Warn reports them back).
 * Schema violations are 422 Invalid with one cause per bad field.
 */
export function admit(kind: KindInfo, input: ApiObject, validation: FieldValidation): { object: ApiObject; warnings: string[] } {
  const obj = clone(input);
  const first = kind.schema.safeParse(obj);
  let issues: Issue[] = first.success ? [] : (first.error.issues as Issue[]);
  const unknown = issues.filter((i) => i.code === 'unrecognized_keys');
  const warnings: string[] = [];
  if (unknown.length > 0) {
    const names = unknown.flatMap((i) => (i.keys ?? []).map((k) => fieldPath([...i.path, k])));
    if (validation === 'Strict') {
      throw errors.badRequest(
        `strict decoding error: ${names.map((n) => `unknown field "${n}"`).join(', ')}`,
        names.map((n) => ({ reason: 'FieldValueInvalid', message: `unknown field "${n}"`, field: n })),
      );
    }
    for (const i of unknown) for (const k of i.keys ?? []) deleteAt(obj, i.path, k);
    if (validation === 'Warn') warnings.push(...names.map((n) => `unknown field "${n}"`));
    const second = kind.schema.safeParse(obj);
    issues = second.success ? [] : (second.error.issues as Issue[]);
  }
  if (issues.length > 0) throw errors.invalid(kind, obj.metadata?.name ?? '', issuesToCauses(issues as Parameters<typeof issuesToCauses>[0]));
  return { object: kind.applyDefaults(obj), warnings };
}
