// Jobs use cases, one facade over the modules that hold them: admission (rate limit and active-jobs
// quota), creates (single and batch, idempotency), queries (reads) and commands (cancel, re-drive).
import { Admission, type AdmissionDeps } from './admission.ts';
import { JobCommands } from './commands.ts';
import { batchSchema } from './createInput.ts';
import { JobCreates, type JobCreatesDeps } from './creates.ts';
import { countsQuery, executionsQuery, JobQueries, listQuery } from './queries.ts';

export interface JobsServiceDeps extends JobCreatesDeps, AdmissionDeps {}

export class JobsService {
  private readonly creates: JobCreates;
  private readonly queries: JobQueries;
  private readonly commands: JobCommands;

  constructor(deps: JobsServiceDeps) {
    // One admission for creates and re-drives: they share the rate limit and the quota's cache.
    const admission = new Admission(deps);
    this.creates = new JobCreates(deps, admission);
    this.queries = new JobQueries(deps.pool);
    this.commands = new JobCommands(deps.pool, admission);
  }

  /** Single creates waiting for a flush of their insert (the djs_job_creates_waiting gauge, tests). */
  get waitingCreates(): number {
    return this.creates.waiting;
  }

  /** The request schemas this service validates with: the OpenAPI document is generated from them. */
  get schemas() {
    return {
      create: this.creates.schema,
      batch: batchSchema,
      list: listQuery,
      counts: countsQuery,
      executions: executionsQuery,
    };
  }

  /** Creates a job; returns it and whether this was an idempotent replay. */
  create(userId: string, body: unknown, idempotencyKey: string | undefined) {
    return this.creates.create(userId, body, idempotencyKey);
  }

  /** Creates up to 1,000 jobs at once, all or nothing (see JobCreates.createBatch). */
  createBatch(userId: string, body: unknown) {
    return this.creates.createBatch(userId, body);
  }

  get(userId: string, id: string) {
    return this.queries.get(userId, id);
  }

  /** A page of the user's jobs (or of one schedule's occurrences), newest first. */
  list(userId: string, query: unknown, scheduleId: string | null = null) {
    return this.queries.list(userId, query, scheduleId);
  }

  /** How many of the user's jobs are in each status (every status listed, zeros included), and in all. */
  counts(userId: string, query: unknown) {
    return this.queries.counts(userId, query);
  }

  /** A job's attempts in the order they happened, a page at a time. */
  executions(userId: string, id: string, query: unknown = {}) {
    return this.queries.executions(userId, id, query);
  }

  /** Cancels a live job (see JobCommands.cancel for who wins against a result). */
  cancel(userId: string, id: string) {
    return this.commands.cancel(userId, id);
  }

  /** Re-drives a failed job: it becomes active again, so it counts like a create (rate and quota). */
  redrive(userId: string, id: string) {
    return this.commands.redrive(userId, id);
  }
}
