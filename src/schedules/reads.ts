// The schedules reads: one schedule, a page of them, a schedule's occurrences, and the preview of an
// expression's fire times (no side effect). Cron searches yield between slices (CpuSlices).
import type { Pool } from '../db/pool.ts';
import { isUuid, notFound, parseOrThrow, validationFailed } from '../errors.ts';
import { decodeCursor, encodeCursor } from '../jobs/representation.ts';
import type { JobsService } from '../jobs/service.ts';
import { CpuSlices } from '../lib/cpuSlices.ts';
import * as sql from '../sql/schedules.ts';
import { LAST_INSTANT, parseCronSchedule, rarityProblem, type Occurrence } from './cron.ts';
import { scheduleJson, yearsAfter } from './representation.ts';
import { previewQuery, scheduleListQuery } from './schema.ts';

/** A preview searches at most this far past `from`: a bound on the work of one request. */
export const PREVIEW_HORIZON_YEARS = 50;

/** The user's schedule; another user's, or an id that is no UUID, is the same 404 as none. */
export async function getSchedule(pool: Pool, userId: string, id: string) {
  if (!isUuid(id)) throw notFound('schedule');
  const s = await sql.findSchedule(pool, userId, { id });
  if (!s) throw notFound('schedule');
  return scheduleJson(s);
}

/** A page of the user's schedules, newest first, and the cursor of the next page. */
export async function listSchedules(pool: Pool, userId: string, query: unknown) {
  const q = parseOrThrow(scheduleListQuery, query);
  let beforeSeq: number | null = null;
  if (q.cursor !== undefined) {
    beforeSeq = decodeCursor(q.cursor);
    if (beforeSeq === null) throw validationFailed([{ path: 'cursor', message: 'is not a valid cursor' }]);
  }
  const rows = await sql.listSchedules(pool, userId, { beforeSeq, limit: q.limit });
  const page = rows.slice(0, q.limit);
  // Each schedule's next_runs is a cron search: a page of them yields between slices.
  const data = [];
  const slices = new CpuSlices();
  for (const s of page) {
    data.push(scheduleJson(s));
    await slices.yieldIfDue();
  }
  return {
    data,
    next_cursor: rows.length > q.limit ? encodeCursor(page.at(-1)!.seq) : null,
  };
}

/** The schedule's occurrences, paginated and filtered like the job list. */
export async function scheduleOccurrences(
  deps: { pool: Pool; jobs: JobsService },
  userId: string,
  id: string,
  query: unknown,
) {
  if (!isUuid(id) || !(await sql.findSchedule(deps.pool, userId, { id }))) throw notFound('schedule');
  return deps.jobs.list(userId, query, id);
}

/**
 * The next fire times of an expression, with no side effect: the same code plans real occurrences.
 * Its work is bounded: the expression must fire at least once in MAX_GAP_YEARS, and the `count`
 * times must fall within PREVIEW_HORIZON_YEARS of `from`.
 */
export async function previewSchedule(query: unknown) {
  const q = parseOrThrow(previewQuery, query);
  const parsed = parseCronSchedule(q.cron.trim(), q.timezone);
  if (!parsed.ok) throw validationFailed([{ path: parsed.field, message: parsed.message }]);
  const rare = rarityProblem(parsed.schedule);
  if (rare) throw validationFailed([{ path: 'cron', message: rare }]);
  const from = q.from ?? new Date();
  const horizon = yearsAfter(from, PREVIEW_HORIZON_YEARS);
  const until = horizon < LAST_INSTANT ? horizon : LAST_INSTANT;
  // One fire time at a time, yielding between slices (see CpuSlices).
  const times: Occurrence[] = [];
  const slices = new CpuSlices();
  for (let after = from; times.length < q.count;) {
    const [next] = parsed.schedule.take(after, 1, until);
    if (!next) break;
    times.push(next);
    after = next.at;
    await slices.yieldIfDue();
  }
  // A cron expression repeats forever: fewer times than asked means the horizon cut the search.
  if (times.length < q.count)
    throw validationFailed([
      {
        path: 'count',
        message:
          until === LAST_INSTANT
            ? `the next ${q.count} fire times reach past the year 9999 (the last a date-time can be written in); ${times.length} fall before it, ask for at most that many`
            : `the next ${q.count} fire times reach past ${PREVIEW_HORIZON_YEARS} years after from (the most one preview searches); ${times.length} fall within it, ask for at most that many`,
      },
    ]);
  return { data: times.map((o) => ({ at: o.at.toISOString(), local: o.local })) };
}
