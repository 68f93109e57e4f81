import { z } from 'zod';
import type { KindInfo } from './kind.js';
import { objectMeta } from './meta.js';
import { conditions, nodeName, nodeSelector, observedGeneration, timestamp } from './fields.js';
import { ageColumn, defaulterFor, listMapKeysFor } from './kindparts.js';

export const volumeSpec = z.strictObject({
  driver: z
    .enum(['local'])
    .default('local')
    .describe('Volume driver. local keeps the data in a directory on one node. Defaults to local.'),
  driverOpts: z
    .record(z.string().min(1), z.string())
    .optional()
    .describe('Driver-specific options (docker volume create -o).'),
  nodeName: nodeName
    .optional()
    .describe('Node that holds the data. Set by the scheduler when empty; containers mounting the volume are placed on this node.'),
  nodeSelector: nodeSelector.optional(),
  reclaimPolicy: z
    .enum(['Delete', 'Retain'])
    .default('Delete')
    .describe('What happens to the data when the Volume is deleted: Delete removes it, Retain leaves it on the node. Defaults to Delete.'),
});
export type VolumeSpec = z.infer<typeof volumeSpec>;

export const volumePhases = ['Pending', 'Ready', 'Failed'] as const;
export type VolumePhase = (typeof volumePhases)[number];

export const volumeStatus = z.strictObject({
  phase: z.enum(volumePhases).optional().describe('Pending (not created on a node yet), Ready or Failed.'),
  nodeName: z.string().optional().describe('Node where the data lives.'),
  mountpoint: z.string().optional().describe('Directory on the node that holds the data.'),
  usedBy: z.array(z.string()).optional().describe('Names of the containers that mount the volume. Deletion waits until this is empty.'),
  size: z.number().int().min(0).optional().describe('Bytes used by the data.'),
  createdAt: timestamp.optional().describe('When the data directory was created.'),
  conditions: conditions.optional(),
  observedGeneration: observedGeneration.optional(),
});
export type VolumeStatus = z.infer<typeof volumeStatus>;

export const volume = z.strictObject({
  apiVersion: z.literal('berth.dev/v1alpha1'),
  kind: z.literal('Volume'),
  metadata: objectMeta,
  spec: volumeSpec.prefault({}).describe('Desired volume. May be omitted: every field has a default.'),
  status: volumeStatus.optional().describe('Observed state of the volume, written by the node agent.'),
});
export type Volume = z.infer<typeof volume>;
export type VolumeInput = z.input<typeof volume>;

export const applyVolumeDefaults = defaulterFor(volume);

export const volumeKind: KindInfo = {
  group: 'berth.dev',
  version: 'v1alpha1',
  kind: 'Volume',
  listKind: 'VolumeList',
  plural: 'volumes',
  singular: 'volume',
  shortNames: ['vol'],
  categories: ['berth'],
  namespaced: true,
  hasStatus: true,
  schema: volume,
  specSchema: volumeSpec,
  statusSchema: volumeStatus,
  printerColumns: [
    { name: 'Driver', type: 'string', jsonPath: '.spec.driver', description: 'Volume driver.' },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Observed phase.' },
    { name: 'Node', type: 'string', jsonPath: '.spec.nodeName', description: 'Node holding the data.' },
    { name: 'Size', type: 'integer', jsonPath: '.status.size', description: 'Bytes used.' },
    ageColumn,
    { name: 'Reclaim', type: 'string', jsonPath: '.spec.reclaimPolicy', description: 'Reclaim policy.', priority: 1 },
    { name: 'Mountpoint', type: 'string', jsonPath: '.status.mountpoint', description: 'Data directory on the node.', priority: 1 },
  ],
  applyDefaults: applyVolumeDefaults,
  selectableFields: ['spec.nodeName'],
  listMapKeys: listMapKeysFor(volume),
  description:
    'A Volume is a named directory whose life is independent of any container (docker volume create). Containers mount it through spec.volumeMounts; its data stays until the Volume is deleted with reclaimPolicy Delete.',
};
