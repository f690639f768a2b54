// The schedules requests: strict zod schemas (unknown fields are errors). The request template is the
// same as a job's (requestTemplate); the API contract (OpenAPI) is generated from these.
import { z } from 'zod';
import { DEFAULT_RETRY, parseInstant, requestTemplate, type JobLimits } from '../jobs/schema.ts';
import type { TargetPolicy } from '../jobs/urlPolicy.ts';
import { LAST_INSTANT, MAX_TAKE } from './cron.ts';
import { NEXT_RUNS } from './representation.ts';

/** An ISO-8601 instant with an offset, as a Date, no later than the last one an answer can write. */
const instant = z.string().transform((s, ctx) => {
  const dt = parseInstant(s);
  if (!dt) {
    ctx.addIssue({ code: 'custom', message: 'must be an ISO-8601 date-time with an offset or Z' });
    return z.NEVER;
  }
  // Later instants are the year 10000 somewhere, which no answer could write back (cron.ts).
  if (dt.toMillis() > LAST_INSTANT.getTime()) {
    ctx.addIssue({
      code: 'custom',
      message: `must be at most ${LAST_INSTANT.toISOString().replace('.000', '')}`,
    });
    return z.NEVER;
  }
  return dt.toJSDate();
});

const OVERLAP = ['allow', 'skip'] as const;
const MISFIRE = ['skip', 'run_once', 'run_all'] as const;

/** POST /v1/schedules: every field but `cron` and `request` has a default. */
export function createScheduleSchema(limits: JobLimits, policy: TargetPolicy) {
  const t = requestTemplate(limits, policy);
  return z.strictObject({
    name: t.name.optional(),
    cron: z.string().max(200),
    timezone: z.string().max(64).default('UTC'),
    request: t.request,
    timeout_ms: t.timeout_ms.default(limits.timeoutDefaultMs),
    retry: t.retry.default(DEFAULT_RETRY),
    start_at: instant.optional(),
    end_at: instant.optional(),
    overlap: z.enum(OVERLAP).default('allow'),
    misfire: z.enum(MISFIRE).default('run_once'),
    paused: z.boolean().default(false),
  });
}

/** PATCH /v1/schedules/{id}: any subset of the fields; null clears name, start_at and end_at. */
export function patchScheduleSchema(limits: JobLimits, policy: TargetPolicy) {
  const t = requestTemplate(limits, policy);
  return z.strictObject({
    name: t.name.nullable().optional(),
    cron: z.string().max(200).optional(),
    timezone: z.string().max(64).optional(),
    request: t.request.optional(),
    timeout_ms: t.timeout_ms.optional(),
    retry: t.retry.optional(),
    start_at: instant.nullable().optional(),
    end_at: instant.nullable().optional(),
    overlap: z.enum(OVERLAP).optional(),
    misfire: z.enum(MISFIRE).optional(),
    paused: z.boolean().optional(),
  });
}

export type ScheduleCreate = z.output<ReturnType<typeof createScheduleSchema>>;
export type SchedulePatch = z.output<ReturnType<typeof patchScheduleSchema>>;

/** GET /v1/schedules: a page size and the cursor of the page before. */
export const scheduleListQuery = z.strictObject({
  limit: z
    .string()
    .regex(/^\d{1,3}$/, 'must be an integer from 1 to 100')
    .transform(Number)
    .pipe(z.number().int().min(1).max(100))
    .default(50),
  cursor: z.string().optional(),
});

/** GET /v1/schedules/preview: an expression, its zone, from when, and how many fire times. */
export const previewQuery = z.strictObject({
  cron: z.string().max(200),
  timezone: z.string().max(64).default('UTC'),
  from: instant.optional(),
  count: z
    .string()
    .regex(/^\d{1,3}$/, `must be an integer from 1 to ${MAX_TAKE}`)
    .transform(Number)
    .pipe(z.number().int().min(1).max(MAX_TAKE))
    .default(NEXT_RUNS),
});
