/**
 * Agent metrics, on the shared registry (reconcile counts, durations and queues come from the
 * controller runner): containers by phase,
 * cAdvisor-named per-container usage, and start latency (creationTimestamp to Running).
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import { metricsRegistry } from '../metrics/registry.js';

export interface ContainerSample {
  namespace: string;
  name: string;
  id: string;
  cpuSeconds: number;
  workingSetBytes: number;
  pids: number;
  /** Counters of the interfaces in the container's own network namespace (loopback left out). */
  network: Array<{ interface: string; rxBytes: number; txBytes: number }>;
}

export interface MetricsSources {
  phases(): Map<string, number>;
  /** Names the embedded DNS answers, by network. */
  dnsRecords(): Map<string, number>;
  samples(): Promise<ContainerSample[]>;
}

export interface AgentMetrics {
  startLatency: Histogram;
  bind(sources: MetricsSources): void;
}

let shared: AgentMetrics | undefined;

/** One set per process (the registry refuses duplicate names); the latest agent feeds the gauges. */
export function agentMetrics(): AgentMetrics {
  if (shared) return shared;
  let sources: MetricsSources | undefined;
  const startLatency = new Histogram({
    name: 'berth_container_start_latency_seconds',
    help: 'Time from a Container object being created to its process running.',
    buckets: [0.05, 0.1, 0.15, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    registers: [metricsRegistry],
  });
  new Gauge({
    name: 'berth_containers',
    help: 'Containers on this node by observed phase.',
    labelNames: ['phase'] as const,
    registers: [metricsRegistry],
    collect() {
      this.reset();
      for (const [phase, n] of sources?.phases() ?? []) this.set({ phase }, n);
    },
  });
  new Gauge({
    name: 'berth_network_dns_records',
    help: 'Names (container names and aliases) the embedded DNS responder answers, by network.',
    labelNames: ['network'] as const,
    registers: [metricsRegistry],
    collect() {
      this.reset();
      for (const [network, n] of sources?.dnsRecords() ?? []) this.set({ network }, n);
    },
  });
  let cached: { at: number; samples: Promise<ContainerSample[]> } | undefined;
  // One cgroup read per scrape, shared by the three per-container series.
  const samples = (): Promise<ContainerSample[]> => {
    if (!sources) return Promise.resolve([]);
    if (!cached || Date.now() - cached.at > 1000) cached = { at: Date.now(), samples: sources.samples().catch(() => []) };
    return cached.samples;
  };
  const labelNames = ['namespace', 'pod', 'container', 'name', 'id'] as const;
  const labels = (s: ContainerSample) => ({ namespace: s.namespace, pod: s.name, container: s.name, name: s.name, id: s.id });
  new Counter({
    name: 'container_cpu_usage_seconds_total',
    help: 'Cumulative CPU time consumed by the container, in seconds.',
    labelNames,
    registers: [metricsRegistry],
    async collect() {
      this.reset();
      for (const s of await samples()) this.inc(labels(s), s.cpuSeconds);
    },
  });
  new Gauge({
    name: 'container_memory_working_set_bytes',
    help: 'Current working set of the container, in bytes.',
    labelNames,
    registers: [metricsRegistry],
    async collect() {
      this.reset();
      for (const s of await samples()) this.set(labels(s), s.workingSetBytes);
    },
  });
  new Gauge({
    name: 'container_processes',
    help: 'Number of processes (pids) running inside the container.',
    labelNames,
    registers: [metricsRegistry],
    async collect() {
      this.reset();
      for (const s of await samples()) this.set(labels(s), s.pids);
    },
  });
  const netLabels = [...labelNames, 'interface'] as const;
  for (const [metric, help, field] of [
    ['container_network_receive_bytes_total', 'Cumulative count of bytes received by the container, per interface.', 'rxBytes'],
    ['container_network_transmit_bytes_total', 'Cumulative count of bytes transmitted by the container, per interface.', 'txBytes'],
  ] as const) {
    new Counter({
      name: metric,
      help,
      labelNames: netLabels,
      registers: [metricsRegistry],
      async collect() {
        this.reset();
        for (const s of await samples()) for (const n of s.network) this.inc({ ...labels(s), interface: n.interface }, n[field]);
      },
    });
  }
  shared = {
            startLatency,
    bind(src) {
      sources = src;
      cached = undefined;
    },
  };
  return shared;
}
