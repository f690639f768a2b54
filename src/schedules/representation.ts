// A schedule as answers show it, with its next fire times (a cron search: CPU, bounded).
import type { ScheduleView } from '../sql/schedules.ts';
import { describeLocal, MAX_GAP_YEARS, parseCronSchedule, type CronSchedule } from './cron.ts';
import { etagOf } from './ifMatch.ts';

/** Fire times shown with a schedule: at most this many, within NEXT_RUNS_YEARS. */
export const NEXT_RUNS = 5;
const NEXT_RUNS_YEARS = MAX_GAP_YEARS;
const YEAR_MS = 365.2425 * 86_400_000;
export const yearsAfter = (t: Date, years: number) => new Date(t.getTime() + years * YEAR_MS);

/** A fire time as answers show it. */
export type NextRun = { at: string; local: string };

/** The next fire times an answer shows: a cron search (CPU), which writes run before taking locks. */
export function nextRuns(schedule: CronSchedule, startAt: Date | null, endAt: Date | null): NextRun[] {
  const from = Math.max(Date.now(), startAt ? startAt.getTime() - 1 : 0);
  return schedule
    .take(new Date(from), NEXT_RUNS, yearsAfter(new Date(from), NEXT_RUNS_YEARS))
    .filter((o) => !endAt || o.at < endAt)
    .map((o) => ({ at: o.at.toISOString(), local: describeLocal(o.at, schedule.timezone) }));
}

/** A schedule as answers show it; `runs`: its next fire times computed already (by a write). */
export function scheduleJson(s: ScheduleView, runs?: NextRun[]) {
  const status = s.paused ? 'paused' : s.finished_at ? 'finished' : 'active';
  let next: NextRun[] = [];
  if (status === 'active' && runs) next = runs;
  else if (status === 'active') {
    const parsed = parseCronSchedule(s.cron, s.timezone);
    if (parsed.ok) next = nextRuns(parsed.schedule, s.start_at, s.end_at);
  }
  return {
    id: s.id,
    name: s.name,
    cron: s.cron,
    timezone: s.timezone,
    request: { method: s.method, url: s.url, headers: s.headers, body: s.body },
    timeout_ms: s.timeout_ms,
    retry: {
      strategy: s.retry_strategy,
      max_attempts: s.max_attempts,
      base_delay_ms: s.base_delay_ms,
      max_delay_ms: s.max_delay_ms,
    },
    start_at: s.start_at?.toISOString() ?? null,
    end_at: s.end_at?.toISOString() ?? null,
    overlap: s.overlap,
    misfire: s.misfire,
    paused: s.paused,
    status,
    next_runs: next,
    skipped_count: s.skipped_count,
    etag: etagOf(s.version),
    created_at: s.created_at.toISOString(),
    updated_at: s.updated_at.toISOString(),
  };
}

export type ScheduleJson = ReturnType<typeof scheduleJson>;
