import { collectDefaultMetrics, Registry } from 'prom-client';

/** The process-wide metrics registry (the one allowed singleton): every role registers here. */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });
// prom-client exports these three as gauges named *_total, which `promtool check metrics` rejects
// ("non-counter metrics should not have _total suffix"); the rest of the defaults are kept.
for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
  metricsRegistry.removeSingleMetric(name);
}
