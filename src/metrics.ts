import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per app instance (tests run several apps in one process, so no global default registry). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    jobRuns: new Counter({
      name: 'solbound_job_runs_total',
      help: 'Job runs by outcome (ok, failed, skipped = another replica held the lock)',
      labelNames: ['job', 'outcome'] as const,
      registers: [registry],
    }),
    jobDuration: new Histogram({
      name: 'solbound_job_duration_seconds',
      help: 'Job run duration',
      labelNames: ['job'] as const,
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers: [registry],
    }),
    httpRequests: new Counter({
      name: 'solbound_http_requests_total',
      help: 'HTTP requests by route and status class',
      labelNames: ['route', 'status'] as const,
      registers: [registry],
    }),
    up: new Gauge({ name: 'solbound_up', help: '1 once the app is ready', registers: [registry] }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
