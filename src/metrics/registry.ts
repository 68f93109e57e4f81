import { collectDefaultMetrics, Registry } from 'prom-client';

/** The process-wide metrics registry (the one allowed singleton): every role registers here. */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });
