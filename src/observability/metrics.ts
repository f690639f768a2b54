// Prometheus metrics. One registry per process; label values are bounded enums (route templates,
// status classes, outcomes): never user ids or URLs.
import client from 'prom-client';

/** All metrics of one process, on their own registry (tests build several apps in one process). */
export class Metrics {
  readonly registry = new client.Registry();
  readonly httpDuration = new client.Histogram({
    name: 'djs_http_request_duration_seconds',
    help: 'API request duration by route template, method and status class',
    labelNames: ['route', 'method', 'status_class'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly jobsCreated = new client.Counter({
    name: 'djs_jobs_created_total',
    help: 'Jobs created through the API',
    registers: [this.registry],
  });
  readonly executions = new client.Counter({
    name: 'djs_job_executions_total',
    help: 'Job attempts by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly executionDuration = new client.Histogram({
    name: 'djs_job_execution_duration_seconds',
    help: 'Duration of outbound requests',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });
  readonly fireLateness = new client.Histogram({
    name: 'djs_job_fire_lateness_seconds',
    help: 'Request sent minus the time the attempt was due (the precision promise)',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly backlog = new client.Gauge({
    name: 'djs_jobs_due_backlog',
    help: 'Jobs due but not yet started',
    registers: [this.registry],
  });
  readonly inFlight = new client.Gauge({
    name: 'djs_jobs_in_flight',
    help: 'Requests this scheduler is executing now',
    registers: [this.registry],
  });
  readonly reaperRescues = new client.Counter({
    name: 'djs_reaper_rescues_total',
    help: 'Running jobs whose lease expired and that the reaper took back',
    registers: [this.registry],
  });
  readonly superseded = new client.Counter({
    name: 'djs_superseded_results_total',
    help: 'Attempt results that arrived after their lease was lost and changed nothing',
    registers: [this.registry],
  });
  readonly resultFallbacks = new client.Counter({
    name: 'djs_result_fallback_rows_total',
    help: 'Attempt results the database refused as received (e.g. poison data), stored as a cleaned fallback row',
    registers: [this.registry],
  });
  readonly retentionDeleted = new client.Counter({
    name: 'djs_retention_deleted_jobs_total',
    help: 'Finished jobs deleted by the retention cleaner, by final status',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly mailSent = new client.Counter({
    name: 'djs_magic_link_emails_sent_total',
    help: 'Magic-link emails handed to the mail provider (or the dev log)',
    registers: [this.registry],
  });
  readonly mailFailed = new client.Counter({
    name: 'djs_magic_link_emails_failed_total',
    help: 'Magic-link email send attempts that failed',
    registers: [this.registry],
  });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics) client.collectDefaultMetrics({ register: this.registry });
  }
}
