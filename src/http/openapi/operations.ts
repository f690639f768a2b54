// Every route of the API as an OpenAPI operation: who may call it, what it takes (the services' own
// zod schemas, handed in by document.ts), what it answers, and every error code it can answer with.
// test/integration/openapi.test.ts compares this list with the app's routes both ways, and checks
// real responses against it.
import type { ZodType } from 'zod';
import type { Scope } from '../../auth/apiKeys.ts';
import type { ErrorCode } from '../../errors.ts';

/** Who may call an operation. */
export type Access =
  | { kind: 'public' }
  /** A person's session only (requireSession): API keys are refused with 403 session_required. */
  | { kind: 'session' }
  /** A session or an API key with this scope (requireScope). */
  | { kind: 'scope'; scope: Scope }
  /** A session or any API key. */
  | { kind: 'any' };

export type ResponseHeader =
  'Location' | 'ETag' | 'Idempotent-Replayed' | 'Cache-Control' | 'Retry-After' | 'WWW-Authenticate';

export interface ResponseSpec {
  description: string;
  /** A component id (src/http/openapi/schemas.ts) or an inline JSON Schema. */
  schema?: string | Record<string, unknown>;
  /** application/json unless given. */
  contentType?: string;
  headers?: ResponseHeader[];
  example?: unknown;
}

export interface OperationSpec {
  method: 'get' | 'post' | 'patch' | 'delete';
  /** OpenAPI form: `/v1/jobs/{id}`. */
  path: string;
  operationId: string;
  tag: 'auth' | 'api-keys' | 'jobs' | 'schedules' | 'signing-secret' | 'operations' | 'docs';
  summary: string;
  description?: string;
  access: Access;
  /** The `{id}` path parameter's description, when the path has one. */
  id?: string;
  /**
   * Query parameters: a strict zod object (each value a string) or the JSON Schema of one, with a
   * description per name.
   */
  query?: {
    schema: ZodType | Record<string, unknown>;
    describe?: Record<string, string>;
    example?: Record<string, string>;
  };
  requestHeaders?: ('Idempotency-Key' | 'If-Match')[];
  body?: {
    schema: ZodType;
    /** application/json (refused otherwise with 415) unless given. */
    contentType?: 'application/x-www-form-urlencoded';
    describe?: Record<string, string>;
    example?: unknown;
  };
  responses: Record<number, ResponseSpec>;
  /** Error codes by status, beyond those the access rule and a JSON body imply (see document.ts). */
  errors?: Record<number, ErrorCode[]>;
  /** False for routes that never touch the database (no 503 service_unavailable). */
  database?: boolean;
}

/** The request schemas, from the services and routes that validate with them. */
export interface RequestSchemas {
  magicLink: ZodType;
  session: ZodType;
  apiKeyCreate: ZodType;
  jobCreate: ZodType;
  jobBatch: ZodType;
  jobList: ZodType;
  jobCounts: ZodType;
  executions: ZodType;
  scheduleCreate: ZodType;
  schedulePatch: ZodType;
  scheduleList: ZodType;
  preview: ZodType;
}

// Examples: each is checked against its schema, and the request examples are sent to the real API,
// by the OpenAPI test.
const JOB_ID = '3f6c1a52-8d0e-4b7a-9c55-2e1f0a7b9d14';
const SCHEDULE_ID = '8b1d2c3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e';
const KEY_ID = 'c0ffee00-1234-4abc-8def-0123456789ab';
const USER_ID = '5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d';
const RETRY = { strategy: 'exponential', max_attempts: 5, base_delay_ms: 1000, max_delay_ms: 3_600_000 };
const REQUEST = {
  method: 'POST',
  url: 'https://example.com/hooks/report',
  headers: { 'content-type': 'application/json' },
  body: '{"report":"nightly"}',
};

export const examples = {
  jobCreate: { name: 'nightly report', request: REQUEST, delay_seconds: 3600, retry: RETRY },
  job: {
    id: JOB_ID,
    name: 'nightly report',
    status: 'scheduled',
    request: REQUEST,
    redacted: false,
    fire_at: '2026-11-24T09:00:00.000Z',
    next_attempt_at: '2026-11-24T09:00:00.000Z',
    timeout_ms: 30_000,
    retry: RETRY,
    attempts: 0,
    round: 1,
    schedule_id: null,
    scheduled_for: null,
    catch_up: false,
    created_at: '2026-11-24T08:00:00.000Z',
    updated_at: '2026-11-24T08:00:00.000Z',
    completed_at: null,
    last_execution: null,
  },
  execution: {
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
  },
  scheduleCreate: {
    name: 'weekday report',
    cron: '0 9 * * 1-5',
    timezone: 'Europe/Berlin',
    request: REQUEST,
    overlap: 'skip',
    misfire: 'run_once',
  },
  schedule: {
    id: SCHEDULE_ID,
    name: 'weekday report',
    cron: '0 9 * * 1-5',
    timezone: 'Europe/Berlin',
    request: REQUEST,
    timeout_ms: 30_000,
    retry: RETRY,
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
  },
  preview: {
    data: [
      { at: '2026-11-24T08:00:00.000Z', local: '2026-11-24T09:00:00+01:00' },
      { at: '2026-11-25T08:00:00.000Z', local: '2026-11-25T09:00:00+01:00' },
    ],
  },
  apiKeyCreate: { name: 'ci backend', scopes: ['jobs:read', 'jobs:write'] },
  apiKey: {
    id: KEY_ID,
    name: 'ci backend',
    scopes: ['jobs:read', 'jobs:write'],
    prefix: 'djs_q8Zt3L',
    last_four: 'x9Qw',
    created_at: '2026-11-24T08:00:00.000Z',
    expires_at: null,
    last_used_at: null,
  },
  session: {
    access_token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI1YTRiIn0.c2lnbmF0dXJl',
    token_type: 'Bearer',
    expires_at: '2026-11-25T08:00:00.000Z',
    user: { id: USER_ID, email: 'ada@example.com' },
  },
  signingSecret: {
    secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw+Q9gPbwCjl0=',
    previous_secret: null,
    previous_valid_until: null,
  },
};
const apiKeyCreated = { ...examples.apiKey, key: 'djs_q8Zt3LmN4pQ7rS1tU5vW9xY2zA6bC0dE3fG7hJkx9Qw' };
const page = <T>(item: T) => ({ data: [item], next_cursor: null });

const JOB_ID_DOC = "the job id (UUID); another user's job or a malformed id answer 404";
const SCHEDULE_ID_DOC = "the schedule id (UUID); another user's schedule or a malformed id answer 404";
const jobsRead: Access = { kind: 'scope', scope: 'jobs:read' };
const jobsWrite: Access = { kind: 'scope', scope: 'jobs:write' };
const schedulesRead: Access = { kind: 'scope', scope: 'schedules:read' };
const schedulesWrite: Access = { kind: 'scope', scope: 'schedules:write' };

const jobListQueryDocs = {
  status: 'comma-separated statuses: scheduled, running, retrying, succeeded, failed, cancelled',
  fire_at_from: 'only jobs firing at or after this instant (RFC 3339 with an offset or Z)',
  fire_at_to: 'only jobs firing before this instant (RFC 3339 with an offset or Z)',
  name: 'only jobs whose name contains this text (case-insensitive; % and _ match themselves)',
  limit: 'page size, 1 to 100 (default 50)',
  cursor: "the previous page's next_cursor",
};
const scheduleResponse = (description: string, example: unknown = examples.schedule): ResponseSpec => ({
  description,
  schema: 'Schedule',
  headers: ['ETag'],
  example,
});
const HTML = 'text/html';

export function operations(s: RequestSchemas): OperationSpec[] {
  return [
    // auth
    {
      method: 'post',
      path: '/v1/auth/magic-link',
      operationId: 'requestMagicLink',
      tag: 'auth',
      summary: 'Email a sign-in link',
      description:
        'Always 202, whether or not the account exists. Limited per email and per client IP (IPv4 address or IPv6 /64) per hour.',
      access: { kind: 'public' },
      body: { schema: s.magicLink, example: { email: 'ada@example.com' } },
      responses: {
        202: { description: 'the link is on its way', schema: 'LinkSent', example: { status: 'sent' } },
      },
      errors: { 429: ['rate_limited'] },
    },
    {
      method: 'get',
      path: '/v1/auth/verify',
      operationId: 'showSignInPage',
      tag: 'auth',
      summary: 'The page a sign-in link opens',
      description:
        'An HTML page naming the account the link signs into, with a "Sign in" button that POSTs the token; no side effect (mail scanners open links). An unusable link shows the "invalid link" page at once.',
      access: { kind: 'public' },
      // Checked in the route itself (an HTML page answers, not validation_failed).
      query: {
        schema: {
          type: 'object',
          properties: { token: { type: 'string', minLength: 1, maxLength: 500 } },
          required: ['token'],
        },
        describe: { token: 'the token of the sign-in link' },
      },
      responses: {
        200: { description: 'the confirm page', contentType: HTML },
        400: { description: 'no token, or one too long: an "invalid link" page', contentType: HTML },
        401: {
          description: 'the link is invalid, expired or already used: an "invalid link" page',
          contentType: HTML,
        },
      },
    },
    {
      method: 'post',
      path: '/v1/auth/verify',
      operationId: 'signInWithForm',
      tag: 'auth',
      summary: "The confirm page's form: sign in and show the access token",
      description:
        'Login CSRF: refused (403) unless Sec-Fetch-Site is same-origin or none, or, without it, Origin is the public origin.',
      access: { kind: 'public' },
      body: {
        schema: s.session,
        contentType: 'application/x-www-form-urlencoded',
        example: { token: 'Wm9vVGhlTGlua1Rva2VuSXNMb25nRW5vdWdo' },
      },
      responses: {
        200: {
          description: 'signed in: a page with the access token, its expiry and a curl example',
          contentType: HTML,
        },
        401: { description: 'the link is invalid, expired or already used', contentType: HTML },
        403: { description: 'a cross-site form post (login CSRF)', contentType: HTML },
      },
      errors: {
        400: ['request_aborted', 'bad_request'],
        413: ['payload_too_large'],
        415: ['unsupported_media_type'],
      },
    },
    {
      method: 'post',
      path: '/v1/auth/session',
      operationId: 'createSession',
      tag: 'auth',
      summary: "Exchange a sign-in link's token for a session",
      description: 'A link works once. The session is an HS256 JWT; POST /v1/auth/logout ends every session.',
      access: { kind: 'public' },
      body: { schema: s.session, example: { token: 'Wm9vVGhlTGlua1Rva2VuSXNMb25nRW5vdWdo' } },
      responses: {
        200: {
          description: 'the session',
          schema: 'Session',
          headers: ['Cache-Control'],
          example: examples.session,
        },
      },
      errors: { 401: ['invalid_token'] },
    },
    {
      method: 'post',
      path: '/v1/auth/logout',
      operationId: 'logout',
      tag: 'auth',
      summary: 'End every session of the user',
      description: 'All earlier session tokens stop working; API keys are not affected.',
      access: { kind: 'session' },
      responses: { 204: { description: 'signed out' } },
    },
    {
      method: 'get',
      path: '/v1/me',
      operationId: 'getMe',
      tag: 'auth',
      summary: 'The signed-in user, and what the credential used may call',
      description:
        '`credential` is `{"kind": "session"}` (every route) or `{"kind": "api_key", "key_id", "scopes"}`: the routes whose scope the key carries, with schedule occurrences\' request templates withheld unless it carries `schedules:read`.',
      access: { kind: 'any' },
      responses: {
        200: {
          description: 'the user and the credential',
          schema: 'Me',
          example: {
            id: USER_ID,
            email: 'ada@example.com',
            created_at: '2026-11-01T10:00:00.000Z',
            credential: { kind: 'api_key', key_id: KEY_ID, scopes: ['jobs:read', 'jobs:write'] },
          },
        },
      },
    },

    // api-keys
    {
      method: 'post',
      path: '/v1/api-keys',
      operationId: 'createApiKey',
      tag: 'api-keys',
      summary: 'Create an API key (shown once)',
      description: 'Only its hash is stored. Keys cannot create keys: this needs a session.',
      access: { kind: 'session' },
      body: { schema: s.apiKeyCreate, example: examples.apiKeyCreate },
      responses: {
        201: {
          description: 'the key, with `key` shown this once',
          schema: 'ApiKeyCreated',
          headers: ['Location', 'Cache-Control'],
          example: apiKeyCreated,
        },
      },
      errors: { 409: ['api_key_limit_reached'] },
    },
    {
      method: 'get',
      path: '/v1/api-keys',
      operationId: 'listApiKeys',
      tag: 'api-keys',
      summary: 'List live API keys (never the key itself)',
      access: { kind: 'session' },
      responses: {
        200: {
          description: 'every live key of the user',
          schema: 'ApiKeyList',
          example: { data: [examples.apiKey] },
        },
      },
    },
    {
      method: 'delete',
      path: '/v1/api-keys/{id}',
      operationId: 'revokeApiKey',
      tag: 'api-keys',
      summary: 'Revoke an API key',
      description: 'Takes effect at once on every replica.',
      access: { kind: 'session' },
      id: "the key id (UUID); another user's key or a malformed id answer 404",
      responses: { 204: { description: 'revoked' } },
      errors: { 404: ['not_found'] },
    },

    // jobs
    {
      method: 'post',
      path: '/v1/jobs',
      operationId: 'createJob',
      tag: 'jobs',
      summary: 'Schedule an HTTP request',
      description:
        'Give `fire_at` or `delay_seconds` (neither: now). The target must pass the SSRF policy. With an `Idempotency-Key`, repeating the same request answers the original job (200, `Idempotent-Replayed: true`); the same key with another body answers 409. Counts against the per-user creation rate and active-jobs quota. Under load, concurrent creates are written together and users take turns in each write. When more than JOB_CREATE_MAX_WAITING_PER_USER creates of one user wait on one server, it answers that user 429 `rate_limited`, and when more than JOB_CREATE_MAX_WAITING wait in all, 503 `service_unavailable`, both with `Retry-After` and at once (nothing written).',
      access: jobsWrite,
      requestHeaders: ['Idempotency-Key'],
      body: {
        schema: s.jobCreate,
        describe: {
          fire_at:
            'RFC 3339 date-time with an offset (-23:59 to +23:59) or Z, at most JOB_FIRE_AT_MAX_DAYS ahead; a past time fires now. Kept to the millisecond: further digits round up (`09:00:00.1234Z` is stored and answered as `09:00:00.124Z`), so the job never fires before the instant given.',
          delay_seconds: 'fire this many seconds from now (instead of fire_at)',
          request: 'the request to make; `url` must be absolute http(s) and pass the SSRF policy',
        },
        example: examples.jobCreate,
      },
      responses: {
        201: { description: 'created', schema: 'Job', headers: ['Location'], example: examples.job },
        200: {
          description: 'an idempotent replay: the job created earlier with this key and body',
          schema: 'Job',
          headers: ['Location', 'Idempotent-Replayed'],
          example: examples.job,
        },
      },
      errors: { 409: ['idempotency_key_reused'], 429: ['rate_limited', 'quota_exceeded'] },
    },
    {
      method: 'post',
      path: '/v1/jobs/batch',
      operationId: 'createJobs',
      tag: 'jobs',
      summary: 'Schedule up to 1,000 HTTP requests at once',
      description:
        'Each item is validated like `POST /v1/jobs`; a 400 lists every invalid item by index (`jobs.3.request.url`) and nothing is written. An item may also carry `idempotency_key`: an item created before with the same key and body is answered with that job; another body answers 409 for the whole batch. Keys are shared with the `Idempotency-Key` header and remembered as long as their job is kept (see that header). The new jobs are written in one statement and count together against the creation rate and the active-jobs quota (all or none). Answers the jobs in the order given.',
      access: jobsWrite,
      body: {
        schema: s.jobBatch,
        describe: { jobs: '1 to 1,000 jobs, each as for POST /v1/jobs, optionally with `idempotency_key`' },
        example: { jobs: [examples.jobCreate, { ...examples.jobCreate, name: 'second' }] },
      },
      responses: {
        201: {
          description: 'created, in the order given',
          schema: 'JobBatch',
          example: { data: [examples.job] },
        },
        200: {
          description: 'every item was an idempotent replay',
          schema: 'JobBatch',
          headers: ['Idempotent-Replayed'],
          example: { data: [examples.job] },
        },
      },
      errors: { 409: ['idempotency_key_reused'], 429: ['rate_limited', 'quota_exceeded'] },
    },
    {
      method: 'get',
      path: '/v1/jobs',
      operationId: 'listJobs',
      tag: 'jobs',
      summary: 'List jobs, newest first',
      access: jobsRead,
      query: {
        schema: s.jobList,
        describe: jobListQueryDocs,
        example: { status: 'failed,retrying', limit: '20' },
      },
      responses: { 200: { description: 'a page of jobs', schema: 'JobPage', example: page(examples.job) } },
    },
    {
      method: 'get',
      path: '/v1/jobs/counts',
      operationId: 'countJobs',
      tag: 'jobs',
      summary: 'Count jobs by status',
      description: 'Takes the filters of GET /v1/jobs other than status and paging.',
      access: jobsRead,
      query: {
        schema: s.jobCounts,
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
          schema: 'JobCounts',
          example: {
            counts: { scheduled: 12, running: 1, retrying: 2, succeeded: 340, failed: 3, cancelled: 4 },
            total: 362,
          },
        },
      },
    },
    {
      method: 'get',
      path: '/v1/jobs/{id}',
      operationId: 'getJob',
      tag: 'jobs',
      summary: 'Get a job',
      access: jobsRead,
      id: JOB_ID_DOC,
      responses: { 200: { description: 'the job', schema: 'Job', example: examples.job } },
      errors: { 404: ['not_found'] },
    },
    {
      method: 'get',
      path: '/v1/jobs/{id}/executions',
      operationId: 'listExecutions',
      tag: 'jobs',
      summary: "A job's attempts, in order",
      description:
        'Each attempt with its outcome, status code, error and the (capped) response body, in the order they happened: by round (a re-drive starts the next), then attempt number.',
      access: jobsRead,
      id: JOB_ID_DOC,
      query: {
        schema: s.executions,
        describe: { limit: 'page size, 1 to 100 (default 100)', cursor: "the previous page's next_cursor" },
      },
      responses: {
        200: {
          description: 'a page of attempts',
          schema: 'ExecutionPage',
          example: page(examples.execution),
        },
      },
      errors: { 404: ['not_found'] },
    },
    {
      method: 'post',
      path: '/v1/jobs/{id}/cancel',
      operationId: 'cancelJob',
      tag: 'jobs',
      summary: 'Cancel a job',
      description:
        'A running request is aborted at once; `attempt_in_flight` then says it may already have reached the target. Whichever commits first wins: a job whose result was written first is finished (409). Cancelling a cancelled job changes nothing (200).',
      access: jobsWrite,
      id: JOB_ID_DOC,
      responses: {
        200: {
          description: 'the cancelled job',
          schema: 'CancelledJob',
          example: { ...examples.job, status: 'cancelled', attempt_in_flight: false },
        },
      },
      errors: { 404: ['not_found'], 409: ['job_finished'] },
    },
    {
      method: 'post',
      path: '/v1/jobs/{id}/retry',
      operationId: 'retryJob',
      tag: 'jobs',
      summary: 'Re-drive a failed job',
      description:
        'The next round: a fresh attempt budget (attempts count from 1 again, `round` goes up), due now; counts like a create (rate limit and quota).',
      access: jobsWrite,
      id: JOB_ID_DOC,
      responses: { 200: { description: 'the job, scheduled again', schema: 'Job', example: examples.job } },
      errors: { 404: ['not_found'], 409: ['job_not_failed'], 429: ['rate_limited', 'quota_exceeded'] },
    },

    // signing secret
    {
      method: 'get',
      path: '/v1/signing-secret',
      operationId: 'getSigningSecret',
      tag: 'signing-secret',
      summary: 'The Standard Webhooks secret that signs your deliveries',
      access: { kind: 'session' },
      responses: {
        200: {
          description: 'the current secret, and the previous one during rotation',
          schema: 'SigningSecret',
          headers: ['Cache-Control'],
          example: examples.signingSecret,
        },
      },
    },
    {
      method: 'post',
      path: '/v1/signing-secret/rotate',
      operationId: 'rotateSigningSecret',
      tag: 'signing-secret',
      summary: 'Rotate the signing secret',
      description: 'The previous secret keeps signing (alongside the new one) for 24 hours.',
      access: { kind: 'session' },
      responses: {
        200: {
          description: 'the new secret and the previous one',
          schema: 'SigningSecret',
          headers: ['Cache-Control'],
          example: {
            ...examples.signingSecret,
            previous_secret: 'whsec_0Bq6Xh9y1kG3vT8mWc2pR7sLzN4aEoF5dUiJ0HbKqYs=',
            previous_valid_until: '2026-11-25T08:00:00.000Z',
          },
        },
      },
    },

    // schedules
    {
      method: 'get',
      path: '/v1/schedules/preview',
      operationId: 'previewSchedule',
      tag: 'schedules',
      summary: 'The next fire times of a cron expression',
      description:
        'No side effects; the same code plans real occurrences. Bounded work: 400 for an expression that fires less than once in 10 years, or when the `count` fire times reach past 50 years after `from`. The zone may be spelled in any case; times are computed in its canonical name.',
      access: schedulesRead,
      query: {
        schema: s.preview,
        describe: {
          cron: '5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first',
          timezone: 'an IANA zone (default UTC)',
          from: 'fire times strictly after this instant (default now)',
          count: 'how many, 1 to 100 (default 5)',
        },
        example: { cron: '0 9 * * 1-5', timezone: 'Europe/Berlin', count: '2' },
      },
      responses: {
        200: { description: 'the next fire times', schema: 'Preview', example: examples.preview },
      },
    },
    {
      method: 'post',
      path: '/v1/schedules',
      operationId: 'createSchedule',
      tag: 'schedules',
      summary: 'Create a recurring request',
      description:
        'The same request template, validation, SSRF policy and idempotency as a job. Refused (400) for a bad expression or zone, one firing more often than SCHEDULE_MIN_INTERVAL_SECONDS, or less than once in 10 years. The zone is stored in its canonical spelling ("europe/berlin" → "Europe/Berlin").',
      access: schedulesWrite,
      requestHeaders: ['Idempotency-Key'],
      body: { schema: s.scheduleCreate, example: examples.scheduleCreate },
      responses: {
        201: { ...scheduleResponse('created'), headers: ['ETag', 'Location'] },
        200: {
          ...scheduleResponse('an idempotent replay: the schedule created earlier with this key and body'),
          headers: ['ETag', 'Location', 'Idempotent-Replayed'],
        },
      },
      errors: { 409: ['idempotency_key_reused'], 429: ['quota_exceeded'] },
    },
    {
      method: 'get',
      path: '/v1/schedules',
      operationId: 'listSchedules',
      tag: 'schedules',
      summary: 'List schedules, newest first',
      access: schedulesRead,
      query: {
        schema: s.scheduleList,
        describe: { limit: 'page size, 1 to 100 (default 50)', cursor: "the previous page's next_cursor" },
      },
      responses: {
        200: { description: 'a page of schedules', schema: 'SchedulePage', example: page(examples.schedule) },
      },
    },
    {
      method: 'get',
      path: '/v1/schedules/{id}',
      operationId: 'getSchedule',
      tag: 'schedules',
      summary: 'Get a schedule',
      access: schedulesRead,
      id: SCHEDULE_ID_DOC,
      responses: { 200: scheduleResponse('the schedule') },
      errors: { 404: ['not_found'] },
    },
    {
      method: 'patch',
      path: '/v1/schedules/{id}',
      operationId: 'updateSchedule',
      tag: 'schedules',
      summary: 'Change a schedule',
      description:
        'Any field; `request` and `retry` replace the whole object, `null` clears name, start_at and end_at. The pending occurrence is replaced when the fire times or the request change (an edit of the name, overlap or misfire keeps it; a new name is applied to it). With `If-Match` (an ETag, a list of them, or `*`), refused (412) when the schedule changed since.',
      access: schedulesWrite,
      id: SCHEDULE_ID_DOC,
      requestHeaders: ['If-Match'],
      body: { schema: s.schedulePatch, example: { cron: '30 8 * * 1-5' } },
      responses: { 200: scheduleResponse('the changed schedule') },
      errors: { 404: ['not_found'], 409: ['concurrent_change'], 412: ['precondition_failed'] },
    },
    {
      method: 'post',
      path: '/v1/schedules/{id}/pause',
      operationId: 'pauseSchedule',
      tag: 'schedules',
      summary: 'Pause a schedule',
      description: 'Cancels the pending occurrence. Pausing a paused schedule changes nothing.',
      access: schedulesWrite,
      id: SCHEDULE_ID_DOC,
      responses: {
        200: scheduleResponse('the paused schedule', {
          ...examples.schedule,
          paused: true,
          status: 'paused',
          next_runs: [],
          etag: '"v2"',
        }),
      },
      errors: { 404: ['not_found'], 409: ['concurrent_change'] },
    },
    {
      method: 'post',
      path: '/v1/schedules/{id}/resume',
      operationId: 'resumeSchedule',
      tag: 'schedules',
      summary: 'Resume a schedule',
      description: 'Plans from now: occurrences missed while paused are not backfilled.',
      access: schedulesWrite,
      id: SCHEDULE_ID_DOC,
      responses: { 200: scheduleResponse('the active schedule') },
      errors: { 404: ['not_found'], 409: ['concurrent_change'] },
    },
    {
      method: 'delete',
      path: '/v1/schedules/{id}',
      operationId: 'deleteSchedule',
      tag: 'schedules',
      summary: 'Delete a schedule',
      description:
        'The pending occurrence is cancelled; past occurrences stay as jobs. With `If-Match`, refused (412) when the schedule changed since.',
      access: schedulesWrite,
      id: SCHEDULE_ID_DOC,
      requestHeaders: ['If-Match'],
      responses: { 204: { description: 'deleted' } },
      errors: { 404: ['not_found'], 412: ['precondition_failed'] },
    },
    {
      method: 'get',
      path: '/v1/schedules/{id}/jobs',
      operationId: 'listScheduleJobs',
      tag: 'schedules',
      summary: "A schedule's occurrences (jobs), newest first",
      description: 'Paginated and filtered like GET /v1/jobs.',
      access: schedulesRead,
      id: SCHEDULE_ID_DOC,
      query: { schema: s.jobList, describe: jobListQueryDocs },
      responses: {
        200: {
          description: 'a page of occurrences',
          schema: 'JobPage',
          example: page({
            ...examples.job,
            schedule_id: SCHEDULE_ID,
            scheduled_for: '2026-11-24T08:00:00.000Z',
          }),
        },
      },
      errors: { 404: ['not_found'] },
    },

    // operations
    {
      method: 'get',
      path: '/healthz',
      operationId: 'liveness',
      tag: 'operations',
      summary: 'Liveness',
      access: { kind: 'public' },
      responses: { 200: { description: 'the process is up', schema: 'Health', example: { status: 'ok' } } },
      database: false,
    },
    {
      method: 'get',
      path: '/readyz',
      operationId: 'readiness',
      tag: 'operations',
      summary: 'Readiness: the database answers and is migrated to the version this build expects',
      description:
        'The status only. Which check fails, and why, is on the operator port (METRICS_PORT), with the Prometheus metrics; neither is part of this API.',
      access: { kind: 'public' },
      responses: {
        200: { description: 'ready', schema: 'Readiness', example: { status: 'ready' } },
        503: { description: 'not ready', schema: 'Readiness', example: { status: 'unavailable' } },
      },
      database: false,
    },

    // docs
    {
      method: 'get',
      path: '/openapi.json',
      operationId: 'openapi',
      tag: 'docs',
      summary: 'This OpenAPI 3.1 document',
      access: { kind: 'public' },
      responses: { 200: { description: 'the document', schema: { type: 'object' } } },
      database: false,
    },
    {
      method: 'get',
      path: '/docs',
      operationId: 'docs',
      tag: 'docs',
      summary: 'The interactive API reference (Swagger UI)',
      access: { kind: 'public' },
      responses: { 200: { description: 'the reference page', contentType: HTML } },
      database: false,
    },
  ];
}
