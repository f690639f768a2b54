// A schedule's writable fields: from a create or a patch, checked (what zod cannot check), and
// compared to tell whether an edit changes what fires. Pure.
import { isDeepStrictEqual } from 'node:util';
import { validationFailed, type ValidationDetail } from '../errors.ts';
import type { ScheduleFields, ScheduleRow } from '../sql/schedules.ts';
import { parseCronSchedule, rarityProblem, type CronSchedule } from './cron.ts';
import type { ScheduleCreate, SchedulePatch } from './schema.ts';

/** The fields a create writes. */
export function createdFields(input: ScheduleCreate): ScheduleFields {
  return {
    name: input.name ?? null,
    cron: input.cron.trim(),
    timezone: input.timezone,
    method: input.request.method,
    url: input.request.url,
    headers: input.request.headers ?? {},
    body: input.request.body ?? null,
    timeoutMs: input.timeout_ms,
    retry: input.retry,
    startAt: input.start_at ?? null,
    endAt: input.end_at ?? null,
    overlap: input.overlap,
    misfire: input.misfire,
    paused: input.paused,
  };
}

/** The fields `was` with a patch applied: an absent field keeps its value, null clears a nullable one. */
export function patchedFields(was: ScheduleFields, input: SchedulePatch): ScheduleFields {
  return {
    ...was,
    name: input.name === undefined ? was.name : input.name,
    cron: input.cron?.trim() ?? was.cron,
    timezone: input.timezone ?? was.timezone,
    ...(input.request && {
      method: input.request.method,
      url: input.request.url,
      headers: input.request.headers ?? {},
      body: input.request.body ?? null,
    }),
    timeoutMs: input.timeout_ms ?? was.timeoutMs,
    retry: input.retry ?? was.retry,
    startAt: input.start_at === undefined ? was.startAt : input.start_at,
    endAt: input.end_at === undefined ? was.endAt : input.end_at,
    overlap: input.overlap ?? was.overlap,
    misfire: input.misfire ?? was.misfire,
    paused: input.paused ?? was.paused,
  };
}

/** A stored schedule's fields, as a write would give them. */
export function fieldsOf(cur: ScheduleRow): ScheduleFields {
  return {
    name: cur.name,
    cron: cur.cron,
    timezone: cur.timezone,
    method: cur.method,
    url: cur.url,
    headers: cur.headers,
    body: cur.body,
    timeoutMs: cur.timeout_ms,
    retry: {
      strategy: cur.retry_strategy,
      max_attempts: cur.max_attempts,
      base_delay_ms: cur.base_delay_ms,
      max_delay_ms: cur.max_delay_ms,
    },
    startAt: cur.start_at,
    endAt: cur.end_at,
    overlap: cur.overlap,
    misfire: cur.misfire,
    paused: cur.paused,
  };
}

/**
 * Checks what zod cannot: the expression, the zone, how rare and how frequent it fires, the window.
 * Sets the zone's canonical spelling in `f` (what is stored). Pure CPU, bounded (the rarity cap):
 * never called while holding a row lock.
 */
export function checkFields(
  f: ScheduleFields,
  now: Date,
  opts: { checkEndInFuture: boolean; minIntervalSeconds: number },
): CronSchedule {
  const parsed = parseCronSchedule(f.cron, f.timezone);
  if (!parsed.ok) throw validationFailed([{ path: parsed.field, message: parsed.message }]);
  f.timezone = parsed.schedule.timezone;
  const rare = rarityProblem(parsed.schedule);
  if (rare) throw validationFailed([{ path: 'cron', message: rare }]);
  const details: ValidationDetail[] = [];
  const min = opts.minIntervalSeconds;
  const interval = parsed.schedule.minIntervalSeconds(now);
  if (interval < min)
    details.push({
      path: 'cron',
      message: `fires as often as every ${interval} s; the minimum interval is ${min} s`,
    });
  if (f.startAt && f.endAt && f.endAt <= f.startAt)
    details.push({ path: 'end_at', message: 'must be after start_at' });
  if (opts.checkEndInFuture && f.endAt && f.endAt <= now)
    details.push({ path: 'end_at', message: 'must be in the future' });
  if (details.length) throw validationFailed(details);
  return parsed.schedule;
}

/**
 * Whether an edit fires at the same times with the same request as before: then it keeps the pending
 * occurrence (its name is updated in place) instead of cancelling it and planning a new one.
 */
export function sameOccurrences(a: ScheduleFields, b: ScheduleFields): boolean {
  const sameTime = (x: Date | null, y: Date | null) => (x?.getTime() ?? null) === (y?.getTime() ?? null);
  return (
    a.cron === b.cron &&
    a.timezone === b.timezone &&
    sameTime(a.startAt, b.startAt) &&
    sameTime(a.endAt, b.endAt) &&
    a.paused === b.paused &&
    a.method === b.method &&
    a.url === b.url &&
    isDeepStrictEqual(a.headers, b.headers) &&
    a.body === b.body &&
    a.timeoutMs === b.timeoutMs &&
    isDeepStrictEqual({ ...a.retry }, { ...b.retry })
  );
}
