/** Metrics of the GitSync controller (promtool-clean: counters end in _total, units in the names). */
import { Counter, Gauge, Histogram } from 'prom-client';
import { metricsRegistry } from './registry.js';

const registers = [metricsRegistry];

export const gitSyncSyncs = new Counter({
  name: 'berth_gitsync_sync_total',
  help: 'GitSync reconciles by result: applied (a revision was applied), unchanged (nothing to write), failed, blocked (mass prune, conflict) or rolled_back.',
  labelNames: ['result'] as const,
  registers,
});

export const gitSyncSyncDuration = new Histogram({
  name: 'berth_gitsync_sync_duration_seconds',
  help: 'Time of one GitSync reconcile: fetch, render, validate and apply (a wave that waits for health ends the reconcile).',
  labelNames: ['result'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10, 30, 60],
  registers,
});

export const gitSyncCommitToReady = new Histogram({
  name: 'berth_gitsync_commit_to_ready_seconds',
  help: 'Time from a commit (its committer date) to all of its objects healthy.',
  buckets: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800],
  registers,
});

export const gitSyncDriftCorrections = new Counter({
  name: 'berth_gitsync_drift_corrections_total',
  help: 'Objects re-applied because a field a GitSync owns was changed by someone else.',
  registers,
});

export const gitSyncManagedObjects = new Gauge({
  name: 'berth_gitsync_managed_objects',
  help: 'Objects in the inventory of each GitSync.',
  labelNames: ['namespace', 'gitsync'] as const,
  registers,
});

export const gitSyncLastApplied = new Gauge({
  name: 'berth_gitsync_last_applied_timestamp_seconds',
  help: 'When each GitSync last applied a revision (Unix time).',
  labelNames: ['namespace', 'gitsync'] as const,
  registers,
});
