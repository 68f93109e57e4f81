import { Counter, Gauge, Histogram } from 'prom-client';
import { metricsRegistry } from '../metrics/registry.js';

const registers = [metricsRegistry];

/** Storages of the registries running in this process; the gauges below sum over them when scraped. */
const storages = new Set<{ blobCount(): Promise<number>; repositories(): Promise<string[]> }>();

export function trackStorage(s: { blobCount(): Promise<number>; repositories(): Promise<string[]> }): () => void {
  storages.add(s);
  return () => storages.delete(s);
}

export const registryRequests = new Counter({
  name: 'berth_registry_http_requests_total',
  help: 'Registry HTTP requests by method and status code.',
  labelNames: ['method', 'code'] as const,
  registers,
});

export const registryBytesReceived = new Counter({
  name: 'berth_registry_bytes_received_total',
  help: 'Blob and manifest bytes received by the registry.',
  registers,
});

export const registryBytesSent = new Counter({
  name: 'berth_registry_bytes_sent_total',
  help: 'Blob and manifest bytes sent by the registry.',
  registers,
});

export const registryUploadDuration = new Histogram({
  name: 'berth_registry_blob_upload_duration_seconds',
  help: 'Time from the start of a blob upload session to its completion.',
  buckets: [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  registers,
});

export const registryBlobs = new Gauge({
  name: 'berth_registry_blobs',
  help: 'Blobs stored (each stored once across repositories).',
  registers,
  async collect() {
    let n = 0;
    for (const s of storages) n += await s.blobCount().catch(() => 0);
    this.set(n);
  },
});

export const registryRepositories = new Gauge({
  name: 'berth_registry_repositories',
  help: 'Repositories with at least one manifest.',
  registers,
  async collect() {
    let n = 0;
    for (const s of storages) n += (await s.repositories().catch(() => [])).length;
    this.set(n);
  },
});
