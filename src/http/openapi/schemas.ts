// Response shapes of the API, in zod, for the OpenAPI document (the services build their answers as
// plain objects: src/jobs/representation.ts, SchedulesService.json, keyJson, AuthService.signIn…).
// Objects are strict: the contract test (test/integration/openapi.test.ts) then fails on a field a
// service adds without documenting it, as well as on one it drops or changes.
import { z } from 'zod';
import { SCOPES } from '../../auth/apiKeys.ts';
import { JOB_STATUSES } from '../../jobs/stateMachine.ts';

/** The named response schemas: `components.schemas` of the document, referenced by id. */
export const components = z.registry<{ id: string }>();

const instant = z.iso.datetime().describe('UTC, ISO-8601 with Z');
const nullableInstant = instant.nullable();
const uuid = z.uuid();
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
/**
 * Execution outcomes, as the job_executions CHECK allows them (migrations/0005_schedules.sql).
 * `skipped` is written by the occurrence planner (overlap or misfire skip) and is missing from the
 * `Outcome` type in src/jobs/stateMachine.ts, hence this list.
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

export const StoredRequest = z
  .strictObject({
    method: z.enum(METHODS),
    url: z.string().describe('the normalised URL that was checked and is fired'),
    headers: z.record(z.string(), z.string()),
    body: z.string().nullable(),
  })
  .register(components, { id: 'StoredRequest' });

export const RetryPolicy = z
  .strictObject({
    strategy: z.enum(['linear', 'exponential']),
    max_attempts: z.int(),
    base_delay_ms: z.int(),
    max_delay_ms: z.int(),
  })
  .register(components, { id: 'RetryPolicy' });

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
  .describe('a summary of the latest attempt, by (round, attempt) (no response body)')
  .register(components, { id: 'LastExecution' });

export const Job = z
  .strictObject({
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
  })
  .register(components, { id: 'Job' });

export const CancelledJob = Job.extend({
  attempt_in_flight: z
    .boolean()
    .describe(
      'true when this cancel stopped a running attempt: its request may already have reached the target (the attempt is recorded as `cancelled`, whatever the target answered)',
    ),
}).register(components, { id: 'CancelledJob' });

export const Execution = z
  .strictObject({
    ...attemptFields,
    response_body: z.string().nullable(),
    response_body_encoding: z
      .enum(['utf8', 'base64'])
      .describe('`utf8`: the text received; `base64`: the exact bytes (binary, NUL or invalid UTF-8)'),
    response_truncated: z.boolean(),
  })
  .register(components, { id: 'Execution' });

const nextCursor = z.string().nullable().describe('pass as `cursor` for the next page; null on the last');

export const JobPage = z
  .strictObject({ data: z.array(Job), next_cursor: nextCursor })
  .register(components, { id: 'JobPage' });
export const JobCounts = z
  .strictObject({
    counts: z
      .strictObject(Object.fromEntries(JOB_STATUSES.map((st) => [st, z.int().min(0)])))
      .describe('jobs in each status (every status present, zeros included)'),
    total: z.int().min(0),
  })
  .register(components, { id: 'JobCounts' });
export const JobBatch = z.strictObject({ data: z.array(Job) }).register(components, { id: 'JobBatch' });
export const ExecutionPage = z
  .strictObject({ data: z.array(Execution), next_cursor: nextCursor })
  .register(components, { id: 'ExecutionPage' });

export const FireTime = z
  .strictObject({
    at: instant,
    local: z.string().describe("the same time in the schedule's zone, with its offset"),
  })
  .register(components, { id: 'FireTime' });

export const Schedule = z
  .strictObject({
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
  })
  .register(components, { id: 'Schedule' });

export const SchedulePage = z
  .strictObject({ data: z.array(Schedule), next_cursor: nextCursor })
  .register(components, { id: 'SchedulePage' });
export const Preview = z.strictObject({ data: z.array(FireTime) }).register(components, { id: 'Preview' });

export const ApiKey = z
  .strictObject({
    id: uuid,
    name: z.string(),
    scopes: z.array(z.enum(SCOPES)),
    prefix: z.string().describe('the first 10 characters of the key'),
    last_four: z.string(),
    created_at: instant,
    expires_at: nullableInstant,
    last_used_at: nullableInstant.describe('updated at most once a minute'),
  })
  .register(components, { id: 'ApiKey' });
export const ApiKeyCreated = ApiKey.extend({
  key: z
    .string()
    .regex(/^djs_[A-Za-z0-9_-]{43}$/)
    .describe('the key itself: shown in this response only, never again'),
}).register(components, { id: 'ApiKeyCreated' });
export const ApiKeyList = z
  .strictObject({ data: z.array(ApiKey) })
  .register(components, { id: 'ApiKeyList' });

export const Session = z
  .strictObject({
    access_token: z.string().describe('an HS256 JWT; send as `Authorization: Bearer …`'),
    token_type: z.literal('Bearer'),
    expires_at: instant,
    user: z.strictObject({ id: uuid, email: z.string() }),
  })
  .register(components, { id: 'Session' });
export const Me = z
  .strictObject({
    id: uuid,
    email: z.string(),
    created_at: instant,
    credential: z
      .discriminatedUnion('kind', [
        z.strictObject({ kind: z.literal('session') }),
        z.strictObject({ kind: z.literal('api_key'), key_id: uuid, scopes: z.array(z.enum(SCOPES)) }),
      ])
      .describe(
        'what this request authenticated with: a session may call every route; an API key, the routes its scopes allow (never the session-only ones)',
      ),
  })
  .register(components, { id: 'Me' });
export const LinkSent = z
  .strictObject({ status: z.literal('sent') })
  .register(components, { id: 'LinkSent' });

export const SigningSecret = z
  .strictObject({
    secret: z
      .string()
      .regex(/^whsec_/)
      .describe('Standard Webhooks secret: `whsec_` + base64 of 32 bytes'),
    previous_secret: z.string().nullable().describe('still signs deliveries until previous_valid_until'),
    previous_valid_until: nullableInstant,
  })
  .register(components, { id: 'SigningSecret' });

export const Health = z.strictObject({ status: z.literal('ok') }).register(components, { id: 'Health' });
// The status only: each check's verdict is on the operator port (METRICS_PORT), never the public one.
export const Readiness = z
  .strictObject({ status: z.enum(['ready', 'unavailable']) })
  .register(components, { id: 'Readiness' });

export const ValidationDetail = z
  .strictObject({
    path: z.string().describe('a dotted field path, a header or query name, or "(body)"'),
    message: z.string(),
  })
  .register(components, { id: 'ValidationDetail' });

/** `{"error": {code, message, details?}}`: every error the API answers in JSON (src/http/middleware.ts). */
export const ErrorEnvelope = z
  .strictObject({
    error: z.strictObject({
      code: z.string().describe('stable and machine-readable; the message is for people'),
      message: z.string(),
      details: z
        .union([
          z.array(ValidationDetail).describe('validation_failed: every problem found'),
          z.strictObject({ needed: z.enum(SCOPES) }).describe('insufficient_scope: the scope needed'),
        ])
        .optional(),
    }),
  })
  .register(components, { id: 'Error' });
