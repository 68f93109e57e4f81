import { isIP } from 'node:net';
import { z } from 'zod';
import { condition, dnsSubdomain, quantity } from './meta.js';

/**
 * Field schemas shared by several kinds. Every regex here must also be valid RE2 (Go's regexp),
 * because the CRD generator copies them into `pattern` and a real kube-apiserver evaluates them.
 */

/** RFC 3339 timestamp, as Kubernetes writes metav1.Time (`2024-05-01T10:00:00Z`). */
export const timestamp = z.iso.datetime({ offset: true });

/**
 * A resource quantity (meta.quantity) tagged so the JSON Schema converters can render it the way
 * Kubernetes does: a `Quantity` reference in OpenAPI, int-or-string in CRDs.
 */
export const quantityField = quantity.meta({ 'x-berth-quantity': true });

/** Reason codes carried in zod issue params; the API server maps them to Status causes. */
export type CauseReason =
  | 'FieldValueInvalid'
  | 'FieldValueRequired'
  | 'FieldValueDuplicate'
  | 'FieldValueNotSupported'
  | 'FieldValueForbidden'
  | 'FieldValueTooLong'
  | 'FieldValueTooMany';

/**
 * A list merged by key (server-side apply, strategic merge) and rendered with
 * x-kubernetes-list-type: map. Duplicate keys are rejected, as kube-apiserver does.
 */
export function listMap<T extends z.ZodType<Record<string, unknown>>>(item: T, keys: [string, ...string[]]) {
  return z
    .array(item)
    .superRefine((items, ctx) => {
      const seen = new Map<string, number>();
      items.forEach((it, i) => {
        const id = JSON.stringify(keys.map((k) => it[k] ?? null));
        const first = seen.get(id);
        if (first !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [i, keys[0]],
            message: `duplicate value: ${keys.map((k) => `${k}=${JSON.stringify(it[k])}`).join(', ')} is already used by item ${first}`,
            params: { reason: 'FieldValueDuplicate' satisfies CauseReason },
          });
        } else {
          seen.set(id, i);
        }
      });
    })
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': keys });
}

/**
 * Makes a strict object a union of its members: exactly one of `keys` must be set. Rendered as
 * `oneOf: [{required: [k]}, ...]`, which structural CRD schemas allow.
 */
export function exactlyOne<T extends z.ZodObject>(obj: T, keys: [string, string, ...string[]]) {
  const list = keys.join(', ');
  return obj
    .superRefine((value, ctx) => {
      const rec = value as Record<string, unknown>;
      const set = keys.filter((k) => rec[k] !== undefined);
      if (set.length !== 1) {
        ctx.addIssue({
          code: 'custom',
          message:
            set.length === 0
              ? `exactly one of ${list} must be set`
              : `exactly one of ${list} must be set, found ${set.join(' and ')}`,
          params: { reason: (set.length === 0 ? 'FieldValueRequired' : 'FieldValueForbidden') satisfies CauseReason },
        });
      }
    })
    .meta({ oneOf: keys.map((k) => ({ required: [k] })) });
}

function hasDotDot(p: string): boolean {
  return p.split('/').includes('..');
}

/** An absolute path without `..` components. */
export const absolutePath = z
  .string()
  .min(1)
  .max(4096)
  .regex(/^\//, { message: 'must be an absolute path (start with /)' })
  .refine((p) => !hasDotDot(p), { message: 'must not contain ".." components' })
  .refine((p) => !p.includes('\0'), { message: 'must not contain NUL characters' });

/** A relative path that stays inside its root: no leading '/', no `..` components. */
export const relativePath = z
  .string()
  .min(1)
  .max(4096)
  .regex(/^[^/]/, { message: 'must be a relative path (must not start with /)' })
  .refine((p) => !hasDotDot(p), { message: 'must not contain ".." components' })
  .refine((p) => !p.includes('\0'), { message: 'must not contain NUL characters' });

/** Label key: optional DNS-subdomain prefix and '/', then a name of up to 63 characters. */
export const labelKey = z
  .string()
  .min(1)
  .max(317)
  .regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/, {
    message: 'must be a label key such as "disktype" or "example.com/zone"',
  });

export const nodeSelector = z
  .record(labelKey, z.string().max(63))
  .describe('Only nodes whose labels include all of these key/value pairs are eligible.');

export const nodeName = dnsSubdomain.describe(
  'The node this object is bound to. Set by the scheduler when empty; set it yourself to pin the object to a node.',
);

/** A reference to another object in the same namespace. */
export const localObjectReference = z.strictObject({
  name: dnsSubdomain.describe('Name of the referenced object, in the same namespace.'),
});

export const ipAddress = z.string().refine((s) => isIP(s) !== 0, { message: 'must be an IPv4 or IPv6 address' });

/** meta.condition, strict and with field descriptions for kubectl explain; same shape and type. */
export const describedCondition = z.strictObject({
  ...condition.shape,
  type: condition.shape.type.describe('Aspect of the state this condition describes, e.g. Ready.'),
  status: condition.shape.status.describe('True, False or Unknown.'),
  reason: condition.shape.reason.describe('Machine-readable reason for the last transition, in UpperCamelCase.'),
  message: condition.shape.message.describe('Human-readable detail about the last transition.'),
  lastTransitionTime: condition.shape.lastTransitionTime.describe('When status last changed.'),
  observedGeneration: condition.shape.observedGeneration.describe('metadata.generation the condition was computed from.'),
});

/** Conditions keyed by type, the latest observation of each aspect of an object's state. */
export const conditions = listMap(describedCondition, ['type']).describe(
  'Latest observations of the object\'s state, one per type (e.g. Ready). Each has status True, False or Unknown, a machine-readable reason and a human-readable message.',
);

export const observedGeneration = z
  .number()
  .int()
  .min(0)
  .describe('The metadata.generation this status was computed from. Lower than metadata.generation while a change is being acted on.');

/** Go time.Duration syntax, as used across Kubernetes: 30s, 5m, 1h30m. */
export const duration = z
  .string()
  .regex(/^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/, { message: 'must be a duration such as 30s, 5m or 1h30m' });

const durationUnitMs: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Milliseconds in a duration string (see `duration`); throws on malformed input. */
export function parseDuration(s: string): number {
  if (!duration.safeParse(s).success) throw new Error(`invalid duration ${JSON.stringify(s)}`);
  let total = 0;
  for (const m of s.matchAll(/([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)/g)) {
    total += Number(m[1]) * (durationUnitMs[m[2] ?? ''] ?? 0);
  }
  return total;
}
