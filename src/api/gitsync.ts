import { z } from 'zod';
import type { KindInfo } from './kind.js';
import { dnsLabel, objectMeta } from './meta.js';
import { conditions, duration, localObjectReference, observedGeneration, relativePath, timestamp } from './fields.js';
import { ageColumn, defaulterFor, listMapKeysFor } from './kindparts.js';

export const gitSyncSpec = z.strictObject({
  url: z
    .string()
    .min(1)
    .regex(/^\S+$/, { message: 'must be a git URL without spaces' })
    .describe('Repository URL, as git clone accepts it (https://, ssh://, git@host:path, file:// or a local path).'),
  ref: z.string().min(1).optional().describe("Branch, tag or commit to follow; the repository's default branch when omitted."),
  path: relativePath.optional().describe('Directory in the repository whose manifests are applied (recursively); the root when omitted.'),
  interval: duration.default('1m').describe('How often to fetch the repository and re-apply, e.g. 30s or 5m. Defaults to 1m.'),
  prune: z.boolean().default(false).describe('Delete objects this GitSync applied earlier that are no longer in the repository. Defaults to false.'),
  selfHeal: z
    .boolean()
    .default(false)
    .describe('Re-apply when an object drifts from the repository between revisions (someone edited it). Defaults to false.'),
  suspend: z.boolean().default(false).describe('Stop fetching and applying until set back to false. Defaults to false.'),
  targetNamespace: dnsLabel.optional().describe("Namespace for manifests that name none; the GitSync's own namespace when omitted."),
  secretRef: localObjectReference
    .optional()
    .describe('Credentials for the repository: a Secret in the same namespace with username/password or identity (SSH key).'),
});
export type GitSyncSpec = z.infer<typeof gitSyncSpec>;

export const inventoryEntry = z.strictObject({
  apiVersion: z.string().describe('apiVersion of the applied object.'),
  kind: z.string().describe('kind of the applied object.'),
  namespace: z.string().optional().describe('Namespace of the applied object; empty for cluster-scoped ones.'),
  name: z.string().describe('Name of the applied object.'),
});
export type InventoryEntry = z.infer<typeof inventoryEntry>;

export const gitSyncStatus = z.strictObject({
  fetchedRevision: z.string().optional().describe('Commit last fetched from ref.'),
  appliedRevision: z.string().optional().describe('Commit whose manifests were last applied successfully.'),
  lastFetchTime: timestamp.optional().describe('When the repository was last fetched.'),
  lastAppliedTime: timestamp.optional().describe('When manifests were last applied.'),
  inventory: z.array(inventoryEntry).optional().describe('Objects applied from appliedRevision; what prune compares against.'),
  conditions: conditions.optional(),
  observedGeneration: observedGeneration.optional(),
});
export type GitSyncStatus = z.infer<typeof gitSyncStatus>;

export const gitSync = z.strictObject({
  apiVersion: z.literal('berth.dev/v1alpha1'),
  kind: z.literal('GitSync'),
  metadata: objectMeta,
  spec: gitSyncSpec.describe('Which repository to follow and how.'),
  status: gitSyncStatus.optional().describe('Observed state of the sync, written by the GitSync controller.'),
});
export type GitSync = z.infer<typeof gitSync>;
export type GitSyncInput = z.input<typeof gitSync>;

export const applyGitSyncDefaults = defaulterFor(gitSync);

export const gitSyncKind: KindInfo = {
  group: 'berth.dev',
  version: 'v1alpha1',
  kind: 'GitSync',
  listKind: 'GitSyncList',
  plural: 'gitsyncs',
  singular: 'gitsync',
  shortNames: ['gs'],
  categories: ['berth'],
  namespaced: true,
  hasStatus: true,
  schema: gitSync,
  specSchema: gitSyncSpec,
  statusSchema: gitSyncStatus,
  printerColumns: [
    { name: 'URL', type: 'string', jsonPath: '.spec.url', description: 'Repository URL.' },
    { name: 'Ref', type: 'string', jsonPath: '.spec.ref', description: 'Followed ref.' },
    { name: 'Revision', type: 'string', jsonPath: '.status.appliedRevision', description: 'Last applied commit.' },
    { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'Ready condition.' },
    { name: 'Suspended', type: 'boolean', jsonPath: '.spec.suspend', description: 'Suspended.' },
    ageColumn,
    { name: 'Path', type: 'string', jsonPath: '.spec.path', priority: 1 },
    { name: 'Fetched', type: 'string', jsonPath: '.status.fetchedRevision', priority: 1 },
  ],
  applyDefaults: applyGitSyncDefaults,
  selectableFields: [],
  listMapKeys: listMapKeysFor(gitSync),
  description:
    'A GitSync keeps the cluster in step with a directory of manifests in a git repository: it fetches ref every interval, applies what it finds, prunes what was removed and, with selfHeal, undoes drift.',
};
