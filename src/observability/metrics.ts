// Prometheus metrics. One registry per process; label values are bounded enums (route templates,
// status classes, outcomes): never user ids or URLs. The scheduler's are derived from its services'
// events in one place (src/scheduler/metricsFromEvents.ts); no scheduler service sets them itself.
import client from 'prom-client';

/** All metrics of one process, on their own registry (tests build several apps in one process). */
export class Metrics {
  readonly registry = new client.Registry();

  private counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) {
    return new client.Counter<L>({ name, help, labelNames, registers: [this.registry] });
  }
  private gauge(name: string, help: string) {
    return new client.Gauge({ name, help, registers: [this.registry] });
  }
  private histogram<L extends string = never>(
    name: string,
    help: string,
    buckets: number[],
    labelNames: readonly L[] = [],
  ) {
    return new client.Histogram<L>({ name, help, buckets, labelNames, registers: [this.registry] });
  }

  readonly httpDuration = this.histogram(
    'djs_http_request_duration_seconds',
    'API request duration by route template, method and status class',
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    ['route', 'method', 'status_class'],
  );
  readonly jobsCreated = this.counter('djs_jobs_created_total', 'Jobs created through the API');
  readonly executions = this.counter('djs_job_executions_total', 'Job attempts by outcome', ['outcome']);
  readonly executionDuration = this.histogram(
    'djs_job_execution_duration_seconds',
    'Duration of outbound requests',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
  );
  readonly fireLateness = this.histogram(
    'djs_job_fire_lateness_seconds',
    'Request sent minus the time the attempt was due (the precision promise)',
    [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  );
  /** Read at scrape time; the API sets it to its JobsService's waiting creates. */
  createsWaiting: () => number = () => 0;
  readonly jobCreatesWaiting: client.Gauge = new client.Gauge({
    name: 'djs_job_creates_waiting',
    help: 'Single job creations waiting to share an INSERT with others (answered 503 past JOB_CREATE_MAX_WAITING)',
    registers: [this.registry],
    collect: (): void => this.jobCreatesWaiting.set(this.createsWaiting()),
  });
  readonly backlog = this.gauge('djs_jobs_due_backlog', 'Jobs due but not yet started');
  readonly inFlight = this.gauge('djs_jobs_in_flight', 'Requests this scheduler is executing now');
  readonly reaperRescues = this.counter(
    'djs_reaper_rescues_total',
    'Running jobs whose lease expired and that the reaper took back',
  );
  readonly occurrencesSkipped = this.counter(
    'djs_occurrences_skipped_total',
    'Schedule fire times skipped instead of fired, by reason (overlap, misfire, quota); misfire counts missed times that never became occurrences too',
    ['reason'],
  );
  readonly superseded = this.counter(
    'djs_superseded_results_total',
    'Attempt results that arrived after their lease was lost and changed nothing',
  );
  readonly resultFallbacks = this.counter(
    'djs_result_fallback_rows_total',
    'Attempt results the database refused as received (e.g. poison data), stored as a cleaned fallback row',
  );
  readonly stuckWaits = this.counter(
    'djs_scheduler_stuck_waits_total',
    'Times a due job could not be claimed twice in a row (held by another scheduler, or its user at the cap)',
  );
  readonly retentionDeleted = this.counter(
    'djs_retention_deleted_jobs_total',
    'Finished jobs deleted by the retention cleaner, by final status',
    ['status'],
  );
  readonly mailSent = this.counter(
    'djs_magic_link_emails_sent_total',
    'Magic-link emails handed to the mail provider (or the dev log)',
  );
  readonly mailFailed = this.counter(
    'djs_magic_link_emails_failed_total',
    'Magic-link email send attempts that failed',
  );

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics) client.collectDefaultMetrics({ register: this.registry });
  }
}
