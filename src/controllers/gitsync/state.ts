/**
 * What the GitSync controller remembers of each GitSync between reconciles (in memory; rebuilt from
 * status and a dry run after a restart): the fetched and applied renders, what it applied to each
 * object (uid, resourceVersion and the values of the fields it owns), and the sync in progress.
 */
import type { HistoryEntry, InventoryEntry, SyncError } from '../../api/gitsync.js';
import type { ResourceType } from '../../client/api-client.js';
import type { DesiredObject, FileRender, RenderResult } from '../../client/gitops/render.js';
import type { Fingerprint } from './fields.js';

export interface Tracked {
  desired: DesiredObject;
  type: ResourceType;
  uid: string;
  /** resourceVersion seen when the fingerprint was last checked or taken. */
  rv: string;
  fingerprint: Fingerprint;
  /** Times each field (JSON path) was corrected, for the drift-fight guard. */
  corrections: Map<string, number[]>;
  /** Set when corrections stopped: the field and the manager that keeps changing it. */
  fight?: { field: string; manager: string };
  /** Drift seen but only reported (driftPolicy Report): the fields and who changed them. */
  drifted?: { fields: string[]; manager?: string };
}

export interface Operation {
  kind: 'sync' | 'rollback';
  revision: string;
  render: RenderResult;
  steps: DesiredObject[][];
  /** Index of the next step to apply; steps before it are applied. */
  next: number;
  startedAt: number;
  /** When the last applied step was applied: its health is awaited until timeout from here. */
  stepAppliedAt: number;
  /** What this operation prunes once every step is applied (empty without spec.prune). */
  prune: InventoryEntry[];
  /** Inventory entries that left git but stay (prune off). */
  keep: InventoryEntry[];
  reason: string;
  /** Where the time went, for the log: the dry run, the writes, the waits for health. */
  timing: { dryRunMs: number; writeMs: number; waitMs: number; waitingSince?: number };
}

export interface Failure {
  revision: string;
  reason: string;
  message: string;
  errors: SyncError[];
  attempts: number;
  retryAt: number;
}

export interface SyncState {
  uid: string;
  generation?: number;
  /** The commit last resolved from ref, and its render. */
  fetched?: { revision: string; ref: string; render: RenderResult; commitTime?: number };
  /** Renders by revision (fetched, applied, last healthy), for holds and rollbacks. */
  renders: Map<string, RenderResult>;
  /** Rendered files by blob id and path: a new commit parses only what it changed. */
  files: Map<string, FileRender>;
  /** What is applied: revision and render hash. */
  applied?: { revision: string; hash: string; at: number };
  tracked: Map<string, Tracked>;
  /** Inventory entries that left git and stay (prune off). */
  extras: InventoryEntry[];
  baselineDone: boolean;
  nextFetchAt: number;
  /** Source problems (fetch, credentials): reported, retried with backoff. */
  sourceError?: { reason: string; message: string; attempts: number; retryAt: number };
  handled: { requestedAt?: string; syncRequestedAt?: string; rollbackTo?: string };
  op?: Operation;
  failure?: Failure;
  /** A revision rolled back from: not applied again automatically. */
  rejected?: string;
  /** When the applied revision was applied, and its commit time, until it is healthy. */
  awaitingHealth?: { revision: string; since: number; commitTime?: number; healthySeen?: boolean };
  /** The healthy revision before lastHealthyRevision: where a rollback goes when the current one was healthy for a moment. */
  previousHealthy?: string;
  lastSyncResult?: { result: 'Succeeded' | 'Failed' | 'RolledBack'; message?: string };
  /** Objects of this GitSync that another GitSync claims (reported here too). */
  claimedBy: Map<string, string>;
  /** Inventory of the last status written, for prune after a restart. */
  inventory: InventoryEntry[];
  lastHealthyRevision?: string;
  history: HistoryEntry[];
  inventoryCache?: { sig: string; entries: InventoryEntry[] };
  /** How long the last reconcile took: events of managed objects are coalesced over a few times that. */
  lastReconcileMs?: number;
  /** The status last written (the informer's copy may be older). */
  lastStatus?: string;
  /** The same without condition messages, and when it was written. */
  lastStatusGist?: string;
  lastStatusAt?: number;
}

export function newState(uid: string): SyncState {
  return { uid, renders: new Map(), files: new Map(), tracked: new Map(), extras: [], baselineDone: false, nextFetchAt: 0, handled: {}, claimedBy: new Map(), inventory: [], history: [] };
}
