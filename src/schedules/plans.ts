// Planning a schedule against the database: the plan (pure, planner.ts) for a stored schedule, and
// its occurrences written with how far the schedule is planned. Used by the API (create, edit,
// resume) and by the scheduler (each claim, and the repair pass), so all of them plan alike.
import type { Queryable } from '../db/pool.ts';
import * as sql from '../sql/schedules.ts';
import { parseCronSchedule } from './cron.ts';
import { planNext, type ClaimedOccurrence, type Plan } from './planner.ts';

/**
 * The plan for a schedule row from its planned_until, or null when its expression no longer parses.
 * `claimed`: what the occurrence at planned_until is, when its claim asks (see planNext).
 */
export function planFor(s: sql.ScheduleRow, now: Date, claimed: ClaimedOccurrence = null): Plan | null {
  const parsed = parseCronSchedule(s.cron, s.timezone);
  if (!parsed.ok) return null;
  return planNext({
    schedule: parsed.schedule,
    startAt: s.start_at,
    endAt: s.end_at,
    misfire: s.misfire,
    plannedUntil: s.planned_until,
    now,
    claimed,
  });
}

/**
 * Creates the occurrences of `plans` and records how far each schedule is planned (and how many
 * missed times it skipped without an occurrence). `notifyWithinMs`:
 * wake sleeping schedulers for an occurrence due that soon (null inside a claim: the claimer looks
 * for the next due job itself right after).
 */
export async function applyPlans(
  db: Queryable,
  plans: { schedule: sql.ScheduleRow; plan: Plan }[],
  notifyWithinMs: number | null,
): Promise<number> {
  const inserted = await sql.insertOccurrences(
    db,
    plans.flatMap(({ schedule, plan }) => plan.occurrences.map((o) => ({ scheduleId: schedule.id, ...o }))),
    notifyWithinMs,
  );
  await sql.setPlanned(
    db,
    plans.map(({ schedule, plan }) => ({
      id: schedule.id,
      plannedUntil: plan.plannedUntil,
      finished: plan.finished,
      skipped: plan.skipped,
    })),
  );
  return inserted;
}
