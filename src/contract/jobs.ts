// Jobs: what they answer (Job, its attempts, pages and counts) and the operations under /v1/jobs. The
// request schemas are the jobs service's own (RequestSchemas): the create schema carries this
// deployment's limits. Declarative data.
import { z } from 'zod';
import { JOB_STATUSES } from '../jobs/stateMachine.ts';
import {
  EXAMPLE_IDS,
  REQUEST_EXAMPLE,
  RETRY_EXAMPLE,
  RetryPolicy,
  StoredRequest,
  instant,
  nextCursor,
  nullableInstant,
  page,
  uuid,
} from './shared.ts';
import { defineOperations, type Access, type Guard, type RequestSchemas } from './types.ts';

/**
 * Execution outcomes, as the job_executions CHECK allows them (migrations/0005_schedules.sql):
 * `skipped` is written by the occurrence planner (an overlap or misfire skip).
 */
export const OUTCOMES = [
  'succeeded',
  'failed',
  'timeout',
  'network_error',
  'blocked',
  'lost',
  'cancelled',
  'superseded',
  'skipped',
] as const;

/** What every attempt record says, with or without its response body. */
const attemptFields = {
  round: z.int().min(1).describe("the job's round: 1, then one more per re-drive"),
  attempt: z.int().min(1).describe('the attempt number within its round'),
  started_at: nullableInstant,
  finished_at: instant,
  duration_ms: z.int().nullable(),
  outcome: z.enum(OUTCOMES),
  status_code: z.int().nullable(),
  error: z.string().nullable(),
};

export const LastExecution = z
  .strictObject(attemptFields)
  .describe('a summary of the latest attempt, by (round, attempt) (no response body)');

export const Job = z.strictObject({
  id: uuid,
  name: z.string().nullable(),
  status: z.enum(JOB_STATUSES),
  request: StoredRequest,
  redacted: z
    .boolean()
    .describe(
      "true on a schedule's occurrence shown to an API key without `schedules:read`: the request template is schedules data, so every header value reads `[redacted]` (names kept) and `body` is null",
    ),
  fire_at: instant.describe('when the job was asked to fire'),
  next_attempt_at: nullableInstant.describe('set while scheduled or retrying'),
  timeout_ms: z.int(),
  retry: RetryPolicy,
  attempts: z.int().describe('attempts made in the current round'),
  round: z.int().min(1).describe('1, plus one per re-drive; each round counts its attempts from 1'),
  schedule_id: uuid.nullable().describe('the schedule whose occurrence this is, if any'),
  scheduled_for: nullableInstant.describe("an occurrence's planned time"),
  catch_up: z.boolean().describe('an occurrence fired late after an outage (misfire: run_once/run_all)'),
  created_at: instant,
  updated_at: instant,
  completed_at: nullableInstant,
  last_execution: LastExecution.nullable(),
});

export const CancelledJob = Job.extend({
  attempt_in_flight: z
    .boolean()
    .describe(
      'true when this cancel stopped a running attempt: its request may already have reached the target (the attempt is recorded as `cancelled`, whatever the target answered)',
    ),
});

export const Execution = z.strictObject({
  ...attemptFields,
  response_body: z.string().nullable(),
  response_body_encoding: z
    .enum(['utf8', 'base64'])
    .describe('`utf8`: the text received; `base64`: the exact bytes (binary, NUL or invalid UTF-8)'),
  response_truncated: z.boolean(),
});

export const JobPage = z.strictObject({ data: z.array(Job), next_cursor: nextCursor });
export const JobCounts = z.strictObject({
  counts: z
    .strictObject(Object.fromEntries(JOB_STATUSES.map((st) => [st, z.int().min(0)])))
    .describe('jobs in each status (every status present, zeros included)'),
  total: z.int().min(0),
});
export const JobBatch = z.strictObject({ data: z.array(Job) });
export const ExecutionPage = z.strictObject({ data: z.array(Execution), next_cursor: nextCursor });

/** The response schemas, by component id, in the document's order. */
export const jobSchemas = {
  LastExecution,
  Job,
  CancelledJob,
  Execution,
  JobPage,
  JobCounts,
  JobBatch,
  ExecutionPage,
};

/** Every request under /v1/jobs needs a credential, known route or not. */
export const jobGuards: Guard[] = [{ prefix: '/v1/jobs', access: 'user' }];

export const jobCreateExample = {
  name: 'nightly report',
  request: REQUEST_EXAMPLE,
  delay_seconds: 3600,
  retry: RETRY_EXAMPLE,
};
export const jobExample = {
  id: EXAMPLE_IDS.job,
  name: 'nightly report',
  status: 'scheduled',
  request: REQUEST_EXAMPLE,
  redacted: false,
  fire_at: '2026-11-24T09:00:00.000Z',
  next_attempt_at: '2026-11-24T09:00:00.000Z',
  timeout_ms: 30_000,
  retry: RETRY_EXAMPLE,
  attempts: 0,
  round: 1,
  schedule_id: null,
  scheduled_for: null,
  catch_up: false,
  created_at: '2026-11-24T08:00:00.000Z',
  updated_at: '2026-11-24T08:00:00.000Z',
  completed_at: null,
  last_execution: null,
} satisfies z.output<typeof Job>;
const executionExample = {
  round: 1,
  attempt: 1,
  started_at: '2026-11-24T09:00:00.004Z',
  finished_at: '2026-11-24T09:00:00.187Z',
  duration_ms: 183,
  outcome: 'succeeded',
  status_code: 200,
  error: null,
  response_body: '{"ok":true}',
  response_body_encoding: 'utf8',
  response_truncated: false,
} satisfies z.output<typeof Execution>;

const JOB_ID = {
  resource: 'job',
  description: "the job id (UUID); another user's job or a malformed id answer 404",
};
const jobsRead: Access = { kind: 'scope', scope: 'jobs:read' };
const jobsWrite: Access = { kind: 'scope', scope: 'jobs:write' };

/** The instants of a job list's filters, checked by the service (RFC 3339 with an offset or Z). */
export const jobListFormats = { fire_at_from: 'date-time', fire_at_to: 'date-time' } as const;

/** The query parameters of GET /v1/jobs (GET /v1/schedules/{id}/jobs takes the same). */
export const jobListQueryDocs = {
  status: 'comma-separated statuses: scheduled, running, retrying, succeeded, failed, cancelled',
  fire_at_from: 'only jobs firing at or after this instant (RFC 3339 with an offset or Z)',
  fire_at_to: 'only jobs firing before this instant (RFC 3339 with an offset or Z)',
  name: 'only jobs whose name contains this text (case-insensitive; % and _ match themselves)',
  limit: 'page size, 1 to 100 (default 50)',
  cursor: "the previous page's next_cursor",
};

/** A batch as documented: each item is a job as POST /v1/jobs takes it (validated one by one). */
const jobBatchBody = (s: RequestSchemas) => z.strictObject({ jobs: z.array(s.jobCreate).min(1).max(1000) });

export const jobOperations = defineOperations({
  createJob: {
    method: 'post',
    path: '/v1/jobs',
    tag: 'jobs',
    summary: 'Schedule an HTTP request',
    description:
      'Give `fire_at` or `delay_seconds` (neither: now). The target must pass the SSRF policy. With an `Idempotency-Key`, repeating the same request answers the original job (200, `Idempotent-Replayed: true`); the same key with another body answers 409. Counts against the per-user creation rate and active-jobs quota. Under load, concurrent creates are written together and users take turns in each write. When more than JOB_CREATE_MAX_WAITING_PER_USER creates of one user wait on one server, it answers that user 429 `rate_limited`, and when more than JOB_CREATE_MAX_WAITING wait in all, 503 `service_unavailable`, both with `Retry-After` and at once (nothing written).',
    access: jobsWrite,
    requestHeaders: ['Idempotency-Key'],
    body: {
      schema: (s) => s.jobCreate,
      parser: 'job',
      // The Idempotency-Key header is checked before the body.
      checkedBy: 'service',
      describe: {
        fire_at:
          'RFC 3339 date-time with an offset (-23:59 to +23:59) or Z, at most JOB_FIRE_AT_MAX_DAYS ahead; a past time fires now. Kept to the millisecond: further digits round up (`09:00:00.1234Z` is stored and answered as `09:00:00.124Z`), so the job never fires before the instant given.',
        delay_seconds: 'fire this many seconds from now (instead of fire_at)',
        request: 'the request to make; `url` must be absolute http(s) and pass the SSRF policy',
      },
      example: jobCreateExample,
    },
    responses: {
      201: { description: 'created', schema: Job, headers: ['Location'], example: jobExample },
      200: {
        description: 'an idempotent replay: the job created earlier with this key and body',
        schema: Job,
        headers: ['Location', 'Idempotent-Replayed'],
        example: jobExample,
      },
    },
    errors: ['idempotency_key_reused', 'rate_limited', 'quota_exceeded'],
  },
  createJobs: {
    method: 'post',
    path: '/v1/jobs/batch',
    tag: 'jobs',
    summary: 'Schedule up to 1,000 HTTP requests at once',
    description:
      'Each item is validated like `POST /v1/jobs`; a 400 lists every invalid item by index (`jobs.3.request.url`) and nothing is written. An item may also carry `idempotency_key`: an item created before with the same key and body is answered with that job; another body answers 409 for the whole batch. Keys are shared with the `Idempotency-Key` header and remembered as long as their job is kept (see that header). The new jobs are written in one statement and count together against the creation rate and the active-jobs quota (all or none). Answers the jobs in the order given.',
    access: jobsWrite,
    body: {
      schema: jobBatchBody,
      parser: 'batch',
      // Items are validated one by one, each invalid one reported by its index.
      checkedBy: 'service',
      describe: { jobs: '1 to 1,000 jobs, each as for POST /v1/jobs, optionally with `idempotency_key`' },
      example: { jobs: [jobCreateExample, { ...jobCreateExample, name: 'second' }] },
    },
    responses: {
      201: { description: 'created, in the order given', schema: JobBatch, example: { data: [jobExample] } },
      200: {
        description: 'every item was an idempotent replay',
        schema: JobBatch,
        headers: ['Idempotent-Replayed'],
        example: { data: [jobExample] },
      },
    },
    errors: ['idempotency_key_reused', 'rate_limited', 'quota_exceeded'],
  },
  listJobs: {
    method: 'get',
    path: '/v1/jobs',
    tag: 'jobs',
    summary: 'List jobs, newest first',
    access: jobsRead,
    query: {
      schema: (s) => s.jobList,
      formats: jobListFormats,
      describe: jobListQueryDocs,
      example: { status: ['failed', 'retrying'], limit: 20 },
    },
    responses: { 200: { description: 'a page of jobs', schema: JobPage, example: page(jobExample) } },
  },
  countJobs: {
    method: 'get',
    path: '/v1/jobs/counts',
    tag: 'jobs',
    summary: 'Count jobs by status',
    description: 'Takes the filters of GET /v1/jobs other than status and paging.',
    access: jobsRead,
    query: {
      schema: (s) => s.jobCounts,
      formats: jobListFormats,
      describe: {
        fire_at_from: jobListQueryDocs.fire_at_from,
        fire_at_to: jobListQueryDocs.fire_at_to,
        name: jobListQueryDocs.name,
      },
      example: { name: 'report' },
    },
    responses: {
      200: {
        description: 'the counts',
        schema: JobCounts,
        example: {
          counts: { scheduled: 12, running: 1, retrying: 2, succeeded: 340, failed: 3, cancelled: 4 },
          total: 362,
        },
      },
    },
  },
  getJob: {
    method: 'get',
    path: '/v1/jobs/{id}',
    tag: 'jobs',
    summary: 'Get a job',
    access: jobsRead,
    params: { id: JOB_ID },
    responses: { 200: { description: 'the job', schema: Job, example: jobExample } },
    errors: ['not_found'],
  },
  listExecutions: {
    method: 'get',
    path: '/v1/jobs/{id}/executions',
    tag: 'jobs',
    summary: "A job's attempts, in order",
    description:
      'Each attempt with its outcome, status code, error and the (capped) response body, in the order they happened: by round (a re-drive starts the next), then attempt number.',
    access: jobsRead,
    params: { id: JOB_ID },
    query: {
      schema: (s) => s.executions,
      describe: { limit: 'page size, 1 to 100 (default 100)', cursor: "the previous page's next_cursor" },
    },
    responses: {
      200: { description: 'a page of attempts', schema: ExecutionPage, example: page(executionExample) },
    },
    errors: ['not_found'],
  },
  cancelJob: {
    method: 'post',
    path: '/v1/jobs/{id}/cancel',
    tag: 'jobs',
    summary: 'Cancel a job',
    description:
      'A running request is aborted at once; `attempt_in_flight` then says it may already have reached the target. Whichever commits first wins: a job whose result was written first is finished (409). Cancelling a cancelled job changes nothing (200).',
    access: jobsWrite,
    params: { id: JOB_ID },
    responses: {
      200: {
        description: 'the cancelled job',
        schema: CancelledJob,
        example: { ...jobExample, status: 'cancelled', attempt_in_flight: false },
      },
    },
    errors: ['not_found', 'job_finished'],
  },
  retryJob: {
    method: 'post',
    path: '/v1/jobs/{id}/retry',
    tag: 'jobs',
    summary: 'Re-drive a failed job',
    description:
      'The next round: a fresh attempt budget (attempts count from 1 again, `round` goes up), due now; counts like a create (rate limit and quota).',
    access: jobsWrite,
    params: { id: JOB_ID },
    responses: { 200: { description: 'the job, scheduled again', schema: Job, example: jobExample } },
    errors: ['not_found', 'job_not_failed', 'rate_limited', 'quota_exceeded'],
  },
});
