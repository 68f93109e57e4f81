/**
 * GitSync: keeps the objects under a path of a git repository applied, prunes what left git, puts
 * back what was changed by hand and reports sync and health (the GitOps kind; its controller is
 * src/controllers/gitsync, its webhook src/apiserver/git-webhook.ts). The webhook id is derived here
 * so that the API server (which routes the hook) and the controller (which publishes the path) agree.
 */
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import type { KindInfo } from './kind.js';
import { dnsLabel, objectMeta } from './meta.js';
import { conditions, duration, localObjectReference, observedGeneration, relativePath, timestamp } from './fields.js';
import { ageColumn, defaulterFor, listMapKeysFor } from './kindparts.js';

/** Schemes the git source accepts; anything else (ext::, fd::, local paths) is refused. */
export const GIT_URL_SCHEMES = ['https', 'http', 'ssh', 'git', 'file'] as const;
const SCP_LIKE = /^[A-Za-z0-9._~-]+@[A-Za-z0-9.-]+:[^\s]+$/;

/** Why `url` is not an acceptable repository URL, or undefined. */
export function gitUrlProblem(url: string): string | undefined {
  if (/\s/.test(url) || url.includes('\0')) return 'must not contain spaces or NUL characters';
  if (url.startsWith('-')) return 'must not start with "-"';
  if (SCP_LIKE.test(url) && !url.includes('://')) return undefined;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `must be a URL with one of the schemes ${GIT_URL_SCHEMES.join(', ')} (or user@host:path for ssh)`;
  }
  const scheme = u.protocol.replace(/:$/, '');
  if (!(GIT_URL_SCHEMES as readonly string[]).includes(scheme)) return `scheme "${scheme}" is not allowed: use one of ${GIT_URL_SCHEMES.join(', ')}`;
  if (u.password) return 'must not carry a password: put credentials in the Secret named by spec.secretRef';
  if ((scheme === 'http' || scheme === 'https') && u.username) return 'must not carry a user name: put credentials in the Secret named by spec.secretRef';
  if (scheme === 'file' && ((u.host !== '' && u.host !== 'localhost') || !u.pathname.startsWith('/'))) return 'file:// URLs must name an absolute path (file:///srv/repo.git)';
  return undefined;
}

export const gitUrl = z
  .string()
  .min(1)
  .max(2048)
  .superRefine((s, ctx) => {
    const problem = gitUrlProblem(s);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

export const gitRef = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[^\s-]([^\r\n\t]*[^\s])?$/, { message: 'must be a branch, tag, commit or semver range: no leading "-", no leading or trailing spaces, no tabs or newlines' })
  .refine((s) => !s.includes('\0'), { message: 'must not contain NUL characters' });

export const driftPolicies = ['Correct', 'Report'] as const;

export const selfHeal = z.strictObject({
  driftPolicy: z
    .enum(driftPolicies)
    .default('Correct')
    .describe('Correct: re-apply an object as soon as a field this GitSync owns is changed by anyone else (also when autoSync is false: the cluster is held at the last applied revision). Report: only mark it OutOfSync. Defaults to Correct.'),
});

export const gitSyncSpec = z.strictObject({
  url: gitUrl.describe('Repository URL: https://, http://, ssh://, git://, file:// or user@host:path (ssh). Credentials never go into the URL: see secretRef.'),
  ref: gitRef
    .optional()
    .describe("What to follow: a branch, a tag, a full commit id, or a semver range over the tags (e.g. 1.x, ^1.2.0, >=1.0.0 <2.0.0); a branch or tag of that exact name wins over a range. The repository's default branch when omitted."),
  path: relativePath.optional().describe('Directory of the repository whose manifests are applied (recursively, or through its kustomization.yaml); the root when omitted.'),
  interval: duration.default('1m').describe('How often to fetch the repository and check the cluster, e.g. 30s or 5m. Defaults to 1m.'),
  timeout: duration.default('5m').describe('How long a sync waits for each wave to become healthy (and the revision to be healthy before rollbackOnFailure acts). Defaults to 5m.'),
  autoSync: z.boolean().default(true).describe('Apply new revisions as they are fetched. When false, new revisions are shown as OutOfSync until `berth gitsync sync`. Defaults to true.'),
  prune: z.boolean().default(false).describe('Delete objects this GitSync applied earlier that are no longer in the repository (matched by uid), and everything it applied when the GitSync itself is deleted (unless deleted with --cascade=orphan). Defaults to false: objects stay.'),
  allowMassPrune: z.boolean().default(false).describe('Allow a sync that would prune more than half of the inventory. Defaults to false: such a sync stops with a condition.'),
  selfHeal: selfHeal.prefault({}).describe('What to do when a managed object drifts from the last applied revision.'),
  suspend: z.boolean().default(false).describe('Stop fetching, applying and correcting until set back to false. Defaults to false.'),
  targetNamespace: dnsLabel.optional().describe("Namespace for namespaced manifests that name none; the GitSync's own namespace when omitted."),
  secretRef: localObjectReference
    .optional()
    .describe('Repository credentials: a Secret in the same namespace with `token`, or `username` and `password` (http/https), or `identity` (an SSH private key) and `known_hosts` (ssh).'),
  rollbackOnFailure: z
    .boolean()
    .default(false)
    .describe('When a new revision is not healthy within timeout, apply the last healthy revision again (and report it). Defaults to false.'),
  webhook: z
    .strictObject({
      secretRef: localObjectReference.describe('A Secret in the same namespace whose `token` key signs the webhook (GitHub, Gitea, GitLab or generic HMAC).'),
    })
    .optional()
    .describe('Receive push notifications at status.webhookPath on the API server, for an immediate fetch.'),
});
export type GitSyncSpec = z.infer<typeof gitSyncSpec>;

export const inventoryEntry = z.strictObject({
  apiVersion: z.string().describe('apiVersion of the applied object.'),
  kind: z.string().describe('kind of the applied object.'),
  namespace: z.string().optional().describe('Namespace of the applied object; empty for cluster-scoped ones.'),
  name: z.string().describe('Name of the applied object.'),
  uid: z.string().optional().describe('UID of the applied object: prune deletes only this very object.'),
});
export type InventoryEntry = z.infer<typeof inventoryEntry>;

export const syncError = z.strictObject({
  file: z.string().optional().describe('File of the repository the error is in.'),
  document: z.number().int().min(0).optional().describe('Index of the YAML document in that file, from 0.'),
  object: z.string().optional().describe('The object concerned, as Kind namespace/name.'),
  field: z.string().optional().describe('The field concerned, e.g. spec.image.'),
  message: z.string().describe('What is wrong.'),
});
export type SyncError = z.infer<typeof syncError>;

export const outOfSyncEntry = z.strictObject({
  apiVersion: z.string().describe('apiVersion of the object.'),
  kind: z.string().describe('kind of the object.'),
  namespace: z.string().optional().describe('Namespace of the object.'),
  name: z.string().describe('Name of the object.'),
  reason: z
    .enum(['Missing', 'Changed', 'Drifted', 'Extra', 'Conflict', 'DriftFight'])
    .describe('Missing (in git, not in the cluster), Changed (differs in the fetched revision), Drifted (changed by hand), Extra (left git, not pruned), Conflict (claimed by another GitSync) or DriftFight (reverted too often).'),
  fields: z.array(z.string()).optional().describe('Fields that differ, e.g. .spec.image.'),
  manager: z.string().optional().describe('Field manager that changed them.'),
});
export type OutOfSyncEntry = z.infer<typeof outOfSyncEntry>;

export const historyEntry = z.strictObject({
  revision: z.string().describe('Commit synced.'),
  time: timestamp.describe('When the sync finished.'),
  result: z.enum(['Succeeded', 'Failed', 'RolledBack']).describe('Succeeded, Failed or RolledBack.'),
  message: z.string().optional().describe('Detail, for failures and rollbacks.'),
});
export type HistoryEntry = z.infer<typeof historyEntry>;

export const gitSyncStatus = z.strictObject({
  fetchedRevision: z.string().optional().describe('Commit last fetched from ref.'),
  fetchedRef: z.string().optional().describe('The ref that commit was resolved from, e.g. refs/heads/main or refs/tags/v1.2.0.'),
  lastFetchTime: timestamp.optional().describe('When a new commit was last fetched.'),
  appliedRevision: z.string().optional().describe('Commit whose manifests were last applied successfully.'),
  lastAppliedTime: timestamp.optional().describe('When manifests were last applied.'),
  lastHealthyRevision: z.string().optional().describe('Last commit whose objects were all healthy: what rollbackOnFailure returns to.'),
  inventory: z.array(inventoryEntry).optional().describe('Objects applied from appliedRevision, with their uids: what prune compares against.'),
  errors: z.array(syncError).optional().describe('Per-object (or per-file) errors of the last attempt.'),
  outOfSync: z.array(outOfSyncEntry).optional().describe('Objects that differ from the fetched revision or from what was applied.'),
  history: z.array(historyEntry).max(10).optional().describe('The last 10 syncs, newest first.'),
  webhookPath: z.string().optional().describe('Path on the API server that receives push webhooks for this GitSync (spec.webhook).'),
  lastHandledRequestedAt: z.string().optional().describe('Value of the berth.dev/requested-at annotation last acted on (a fetch now).'),
  lastHandledSyncRequestedAt: z.string().optional().describe('Value of the berth.dev/sync-requested-at annotation last acted on (apply the fetched revision now).'),
  lastHandledRollbackTo: z.string().optional().describe('Value of the berth.dev/rollback-to annotation last acted on (REVISION@TIME).'),
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

/**
 * Put on every GitSync at creation: its controller drops it once it has deleted what the GitSync
 * applied (spec.prune) or left it in place (prune off, or `kubectl delete --cascade=orphan`).
 */
export const GITSYNC_FINALIZER = 'berth.dev/gitsync';
/**
 * Set by the API server on a GitSync deleted with propagationPolicy Orphan: the garbage collector
 * drops its `orphan` finalizer at once, so the controller reads the user's choice from here.
 */
export const ORPHAN_ON_DELETE_ANNOTATION = 'berth.dev/orphan-on-delete';

/** Annotation whose change asks for an immediate fetch and sync (berth gitsync sync, the webhook). */
export const REQUESTED_AT_ANNOTATION = 'berth.dev/requested-at';
/** Annotation asking to apply the fetched revision now, even with autoSync false (berth gitsync sync). */
export const SYNC_REQUESTED_AT_ANNOTATION = 'berth.dev/sync-requested-at';
/** Annotation asking to apply an earlier revision (berth gitsync rollback): REVISION@TIME. */
export const ROLLBACK_TO_ANNOTATION = 'berth.dev/rollback-to';
/** Prefix of the webhook paths on the API server. */
export const WEBHOOK_PREFIX = '/hooks/git/';

/**
 * The webhook id of a GitSync: an HMAC of its uid under the webhook token, so that nobody who does
 * not hold the token can guess it from the GitSync's name (and a recreated GitSync gets a new one).
 */
export function webhookId(token: string, uid: string): string {
  return createHmac('sha256', token).update(`berth.dev/gitsync-webhook:${uid}`).digest('hex').slice(0, 40);
}

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
    { name: 'Synced', type: 'string', jsonPath: '.status.conditions[?(@.type=="Synced")].reason', description: 'Synced, OutOfSync or why it is not.' },
    { name: 'Health', type: 'string', jsonPath: '.status.conditions[?(@.type=="Healthy")].reason', description: 'Healthy, Progressing or Degraded.' },
    { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'Ready condition.' },
    { name: 'Suspended', type: 'boolean', jsonPath: '.spec.suspend', description: 'Suspended.' },
    ageColumn,
    { name: 'Path', type: 'string', jsonPath: '.spec.path', priority: 1 },
    { name: 'Fetched', type: 'string', jsonPath: '.status.fetchedRevision', priority: 1 },
    { name: 'Message', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].message', priority: 1 },
  ],
  applyDefaults: applyGitSyncDefaults,
  selectableFields: [],
  listMapKeys: listMapKeysFor(gitSync),
  description:
    'A GitSync keeps the cluster equal to a directory of manifests in a git repository: it fetches ref every interval (or on a webhook), validates the whole revision with a server-side dry run, applies it in waves under the field manager berth-gitsync, prunes what left git, corrects (or reports) drift as it happens, reports sync and health, and can roll back a revision that does not become healthy.',
};
