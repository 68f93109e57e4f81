import { z } from 'zod';
import type { KindInfo } from './kind.js';
import type { ApiObject } from './meta.js';
import { objectMeta } from './meta.js';
import { ageColumn, listMapKeysFor } from './kindparts.js';

const secretKey = z.string().regex(/^[-._a-zA-Z0-9]+$/, { message: "must consist of alphanumeric characters, '-', '_' or '.'" });
const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, { message: 'must be base64-encoded' });

/** Core v1 Secret, as Kubernetes has it: what Image pull credentials (spec.source.pull.secretRef) name. */
export const secret = z.strictObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Secret'),
  metadata: objectMeta,
  type: z
    .string()
    .default('Opaque')
    .describe('Opaque, or kubernetes.io/dockerconfigjson for registry credentials (a .dockerconfigjson key holding a Docker config.json).'),
  data: z.record(secretKey, base64).optional().describe('Base64-encoded values by key.'),
  stringData: z.record(secretKey, z.string()).optional().describe('Plain-text values, merged into data on write (and never returned).'),
  immutable: z.boolean().optional().describe('When true, data cannot change after creation.'),
});
export type Secret = z.infer<typeof secret>;

/** Defaults, and stringData folded into data as the Kubernetes API server does. */
export function applySecretDefaults(obj: ApiObject): ApiObject {
  const parsed = secret.safeParse(obj);
  const s = (parsed.success ? parsed.data : structuredClone(obj)) as Secret & ApiObject;
  if (s.stringData) {
    s.data = { ...(s.data ?? {}) };
    for (const [k, v] of Object.entries(s.stringData)) s.data[k] = Buffer.from(v, 'utf8').toString('base64');
    delete s.stringData;
  }
  return s;
}

export const secretKind: KindInfo = {
  group: '',
  version: 'v1',
  kind: 'Secret',
  listKind: 'SecretList',
  plural: 'secrets',
  singular: 'secret',
  shortNames: [],
  categories: [],
  namespaced: true,
  hasStatus: false,
  schema: secret,
  printerColumns: [
    { name: 'Type', type: 'string', jsonPath: '.type', description: 'Type of the secret.' },
    ageColumn,
  ],
  applyDefaults: applySecretDefaults,
  selectableFields: ['type'],
  listMapKeys: listMapKeysFor(secret),
  description: 'Secret holds small amounts of sensitive data, such as registry credentials for Image pulls.',
};
