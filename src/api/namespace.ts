import { z } from 'zod';
import type { KindInfo } from './kind.js';
import { objectMeta } from './meta.js';
import { conditions } from './fields.js';
import { ageColumn, defaulterFor, listMapKeysFor } from './kindparts.js';

export const namespaceSpec = z.strictObject({
  finalizers: z
    .array(z.string())
    .optional()
    .describe('Finalizers that must be removed before the namespace and everything in it is gone for good.'),
});
export type NamespaceSpec = z.infer<typeof namespaceSpec>;

export const namespaceStatus = z.strictObject({
  phase: z
    .enum(['Active', 'Terminating'])
    .default('Active')
    .describe('Active, or Terminating while the objects inside are being deleted. Defaults to Active.'),
  conditions: conditions.optional(),
});
export type NamespaceStatus = z.infer<typeof namespaceStatus>;

export const namespace = z.strictObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Namespace'),
  metadata: objectMeta,
  spec: namespaceSpec.optional().describe('Finalizers of the namespace.'),
  status: namespaceStatus.prefault({}).describe('Lifecycle phase of the namespace.'),
});
export type Namespace = z.infer<typeof namespace>;
export type NamespaceInput = z.input<typeof namespace>;

export const applyNamespaceDefaults = defaulterFor(namespace);

export const namespaceKind: KindInfo = {
  group: '',
  version: 'v1',
  kind: 'Namespace',
  listKind: 'NamespaceList',
  plural: 'namespaces',
  singular: 'namespace',
  shortNames: ['ns'],
  categories: [],
  namespaced: false,
  hasStatus: true,
  schema: namespace,
  specSchema: namespaceSpec,
  statusSchema: namespaceStatus,
  printerColumns: [
    { name: 'Status', type: 'string', jsonPath: '.status.phase', description: 'Lifecycle phase.' },
    ageColumn,
  ],
  applyDefaults: applyNamespaceDefaults,
  selectableFields: ['status.phase'],
  listMapKeys: listMapKeysFor(namespace),
  description: 'Namespace provides a scope for names. Deleting a namespace deletes everything in it.',
};
