// Schedules: what they answer (Schedule, fire times, pages) and the operations under /v1/schedules. The
// request schemas are the schedules service's own (RequestSchemas): they carry the job's limits.
// Declarative data.
import { z } from 'zod';
import { JobPage, jobExample, jobListFormats, jobListQueryDocs } from './jobs.ts';
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
import { defineOperations, type Access, type Guard } from './types.ts';

export const FireTime = z.strictObject({
  at: instant,
  local: z.string().describe("the same time in the schedule's zone, with its offset"),
});

export const Schedule = z.strictObject({
  id: uuid,
  name: z.string().nullable(),
  cron: z.string(),
  timezone: z.string(),
  request: StoredRequest,
  timeout_ms: z.int(),
  retry: RetryPolicy,
  start_at: nullableInstant,
  end_at: nullableInstant,
  overlap: z.enum(['allow', 'skip']),
  misfire: z.enum(['skip', 'run_once', 'run_all']),
  paused: z.boolean(),
  status: z.enum(['active', 'paused', 'finished']),
  next_runs: z.array(FireTime).describe('the next 5 fire times (empty unless active)'),
  skipped_count: z.int(),
  etag: z.string().describe('the same value as the ETag header; send it as If-Match'),
  created_at: instant,
  updated_at: instant,
});

export const SchedulePage = z.strictObject({ data: z.array(Schedule), next_cursor: nextCursor });
export const Preview = z.strictObject({ data: z.array(FireTime) });

/** The response schemas, by component id, in the document's order. */
export const scheduleSchemas = { FireTime, Schedule, SchedulePage, Preview };

/** Every request under /v1/schedules needs a credential, known route or not. */
export const scheduleGuards: Guard[] = [{ prefix: '/v1/schedules', access: 'user' }];

const scheduleCreateExample = {
  name: 'weekday report',
  cron: '0 9 * * 1-5',
  timezone: 'Europe/Berlin',
  request: REQUEST_EXAMPLE,
  overlap: 'skip',
  misfire: 'run_once',
};
const scheduleExample = {
  id: EXAMPLE_IDS.schedule,
  name: 'weekday report',
  cron: '0 9 * * 1-5',
  timezone: 'Europe/Berlin',
  request: REQUEST_EXAMPLE,
  timeout_ms: 30_000,
  retry: RETRY_EXAMPLE,
  start_at: null,
  end_at: null,
  overlap: 'skip',
  misfire: 'run_once',
  paused: false,
  status: 'active',
  next_runs: [{ at: '2026-11-24T08:00:00.000Z', local: '2026-11-24T09:00:00+01:00' }],
  skipped_count: 0,
  etag: '"v1"',
  created_at: '2026-11-23T12:00:00.000Z',
  updated_at: '2026-11-23T12:00:00.000Z',
} satisfies z.output<typeof Schedule>;
const previewExample = {
  data: [
    { at: '2026-11-24T08:00:00.000Z', local: '2026-11-24T09:00:00+01:00' },
    { at: '2026-11-25T08:00:00.000Z', local: '2026-11-25T09:00:00+01:00' },
  ],
} satisfies z.output<typeof Preview>;

const SCHEDULE_ID = {
  resource: 'schedule',
  description: "the schedule id (UUID); another user's schedule or a malformed id answer 404",
};
const schedulesRead: Access = { kind: 'scope', scope: 'schedules:read' };
const schedulesWrite: Access = { kind: 'scope', scope: 'schedules:write' };
/** A schedule answered, with its version in ETag. */
const scheduleResponse = (description: string, example: unknown = scheduleExample) => ({
  description,
  schema: Schedule,
  headers: ['ETag'] as const,
  example,
});

export const scheduleOperations = defineOperations({
  previewSchedule: {
    method: 'get',
    path: '/v1/schedules/preview',
    tag: 'schedules',
    summary: 'The next fire times of a cron expression',
    description:
      'No side effects; the same code plans real occurrences. Bounded work: 400 for an expression that fires less than once in 10 years, or when the `count` fire times reach past 50 years after `from`. The zone may be spelled in any case; times are computed in its canonical name.',
    access: schedulesRead,
    query: {
      schema: (s) => s.preview,
      formats: { from: 'date-time' },
      describe: {
        cron: '5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first',
        timezone: 'an IANA zone (default UTC)',
        from: 'fire times strictly after this instant (default now)',
        count: 'how many, 1 to 100 (default 5)',
      },
      example: { cron: '0 9 * * 1-5', timezone: 'Europe/Berlin', count: 2 },
    },
    responses: { 200: { description: 'the next fire times', schema: Preview, example: previewExample } },
  },
  createSchedule: {
    method: 'post',
    path: '/v1/schedules',
    tag: 'schedules',
    summary: 'Create a recurring request',
    description:
      'The same request template, validation, SSRF policy and idempotency as a job. Refused (400) for a bad expression or zone, one firing more often than SCHEDULE_MIN_INTERVAL_SECONDS, or less than once in 10 years. The zone is stored in its canonical spelling ("europe/berlin" → "Europe/Berlin").',
    access: schedulesWrite,
    requestHeaders: ['Idempotency-Key'],
    // The Idempotency-Key header is checked before the body.
    body: { schema: (s) => s.scheduleCreate, checkedBy: 'service', example: scheduleCreateExample },
    responses: {
      201: { ...scheduleResponse('created'), headers: ['ETag', 'Location'] },
      200: {
        ...scheduleResponse('an idempotent replay: the schedule created earlier with this key and body'),
        headers: ['ETag', 'Location', 'Idempotent-Replayed'],
      },
    },
    errors: ['idempotency_key_reused', 'quota_exceeded'],
  },
  listSchedules: {
    method: 'get',
    path: '/v1/schedules',
    tag: 'schedules',
    summary: 'List schedules, newest first',
    access: schedulesRead,
    query: {
      schema: (s) => s.scheduleList,
      describe: { limit: 'page size, 1 to 100 (default 50)', cursor: "the previous page's next_cursor" },
    },
    responses: {
      200: { description: 'a page of schedules', schema: SchedulePage, example: page(scheduleExample) },
    },
  },
  getSchedule: {
    method: 'get',
    path: '/v1/schedules/{id}',
    tag: 'schedules',
    summary: 'Get a schedule',
    access: schedulesRead,
    params: { id: SCHEDULE_ID },
    responses: { 200: scheduleResponse('the schedule') },
    errors: ['not_found'],
  },
  updateSchedule: {
    method: 'patch',
    path: '/v1/schedules/{id}',
    tag: 'schedules',
    summary: 'Change a schedule',
    description:
      'Any field; `request` and `retry` replace the whole object, `null` clears name, start_at and end_at. The pending occurrence is replaced when the fire times or the request change (an edit of the name, overlap or misfire keeps it; a new name is applied to it). With `If-Match` (an ETag, a list of them, or `*`), refused (412) when the schedule changed since.',
    access: schedulesWrite,
    params: { id: SCHEDULE_ID },
    requestHeaders: ['If-Match'],
    body: { schema: (s) => s.schedulePatch, example: { cron: '30 8 * * 1-5' } },
    responses: { 200: scheduleResponse('the changed schedule') },
    errors: ['not_found', 'concurrent_change', 'precondition_failed'],
  },
  pauseSchedule: {
    method: 'post',
    path: '/v1/schedules/{id}/pause',
    tag: 'schedules',
    summary: 'Pause a schedule',
    description: 'Cancels the pending occurrence. Pausing a paused schedule changes nothing.',
    access: schedulesWrite,
    params: { id: SCHEDULE_ID },
    responses: {
      200: scheduleResponse('the paused schedule', {
        ...scheduleExample,
        paused: true,
        status: 'paused',
        next_runs: [],
        etag: '"v2"',
      }),
    },
    errors: ['not_found', 'concurrent_change'],
  },
  resumeSchedule: {
    method: 'post',
    path: '/v1/schedules/{id}/resume',
    tag: 'schedules',
    summary: 'Resume a schedule',
    description: 'Plans from now: occurrences missed while paused are not backfilled.',
    access: schedulesWrite,
    params: { id: SCHEDULE_ID },
    responses: { 200: scheduleResponse('the active schedule') },
    errors: ['not_found', 'concurrent_change'],
  },
  deleteSchedule: {
    method: 'delete',
    path: '/v1/schedules/{id}',
    tag: 'schedules',
    summary: 'Delete a schedule',
    description:
      'The pending occurrence is cancelled; past occurrences stay as jobs. With `If-Match`, refused (412) when the schedule changed since.',
    access: schedulesWrite,
    params: { id: SCHEDULE_ID },
    requestHeaders: ['If-Match'],
    responses: { 204: { description: 'deleted' } },
    errors: ['not_found', 'precondition_failed'],
  },
  listScheduleJobs: {
    method: 'get',
    path: '/v1/schedules/{id}/jobs',
    tag: 'schedules',
    summary: "A schedule's occurrences (jobs), newest first",
    description: 'Paginated and filtered like GET /v1/jobs.',
    access: schedulesRead,
    params: { id: SCHEDULE_ID },
    query: { schema: (s) => s.jobList, formats: jobListFormats, describe: jobListQueryDocs },
    responses: {
      200: {
        description: 'a page of occurrences',
        schema: JobPage,
        example: page({
          ...jobExample,
          schedule_id: EXAMPLE_IDS.schedule,
          scheduled_for: '2026-11-24T08:00:00.000Z',
        }),
      },
    },
    errors: ['not_found'],
  },
});
