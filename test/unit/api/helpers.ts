import type { z } from 'zod';
import { issuesToCauses, type StatusCause } from '../../../src/api/validation.js';

/** Parses and returns the Status causes of a failure; throws if the input unexpectedly passes. */
export function causesOf(schema: z.ZodType, input: unknown): StatusCause[] {
  const r = schema.safeParse(input);
  if (r.success) throw new Error(`expected validation to fail for ${JSON.stringify(input)}`);
  return issuesToCauses(r.error.issues);
}

/** Fields named by the causes of a failure. */
export function badFields(schema: z.ZodType, input: unknown): string[] {
  return causesOf(schema, input).map((c) => c.field);
}

export function meta(name: string, namespace = 'default'): { name: string; namespace: string } {
  return { name, namespace };
}
