import type { z } from 'zod';
import type { PrinterColumn } from './kind.js';
import type { ApiObject } from './meta.js';
import { listMapKeysOf, rawJsonSchema } from './jsonschema.js';

/** Pieces every kind file uses to fill in its KindInfo. */

export const ageColumn: PrinterColumn = {
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
  description: 'Time since the object was created.',
};

/**
 * KindInfo.applyDefaults for a schema whose defaults are declared with zod `.default()` /
 * `.prefault()`: parsing fills them in. An object that does not validate is returned unchanged
 * (as a copy): callers validate first, and defaulting must never throw.
 */
export function defaulterFor(schema: z.ZodType): (obj: ApiObject) => ApiObject {
  return (obj) => {
    const r = schema.safeParse(obj);
    return r.success ? (r.data as ApiObject) : structuredClone(obj);
  };
}

/** KindInfo.listMapKeys, read from the schema's x-kubernetes-list-map-keys annotations. */
export function listMapKeysFor(schema: z.ZodType): Record<string, string[]> {
  return listMapKeysOf(rawJsonSchema(schema));
}
