import { Counter, Gauge, Histogram } from 'prom-client';
import { metricsRegistry } from './registry.js';

const registers = [metricsRegistry];

export const apiRequests = new Counter({
  name: 'apiserver_request_total',
  help: 'API requests by verb, resource and HTTP code.',
  labelNames: ['verb', 'resource', 'subresource', 'code'] as const,
  registers,
});

export const apiRequestDuration = new Histogram({
  name: 'apiserver_request_duration_seconds',
  help: 'API request latency by verb and resource (watches excluded).',
  labelNames: ['verb', 'resource', 'subresource'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers,
});

export const openWatches = new Gauge({
  name: 'apiserver_registered_watchers',
  help: 'Open watch streams by resource.',
  labelNames: ['resource'] as const,
  registers,
});

export const droppedWatches = new Counter({
  name: 'apiserver_watch_dropped_total',
  help: 'Watches the server closed, by resource and reason (SlowClient: more unread bytes than the per-watch limit).',
  labelNames: ['resource', 'reason'] as const,
  registers,
});

export const storeOperationDuration = new Histogram({
  name: 'berth_store_operation_duration_seconds',
  help: 'Store operation latency by operation and resource.',
  labelNames: ['operation', 'resource'] as const,
  buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
  registers,
});

export const storedObjects = new Gauge({
  name: 'apiserver_storage_objects',
  help: 'Objects stored, by resource.',
  labelNames: ['resource'] as const,
  registers,
});
