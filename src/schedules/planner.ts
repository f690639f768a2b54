// Which occurrences of a schedule to create next, pure: the claim of an occurrence and the repair
// pass both ask this, with the database's answers (how far the schedule is planned) and the clock
// passed in.
//
// Misfire: a fire time that passed more than MISFIRE_GRACE_MS ago while no occurrence was created
// for it (every scheduler down) is "missed". `skip` resumes at the next future time; `run_once` runs
// one catch-up now (for the latest missed time), then future times; `run_all` runs every missed time
// now, the first RUN_ALL_CAP of them, then future times. Times late by less than the grace are not
// missed: they are created due at their time (so, at once) like any other.
import type { CronSchedule } from './cron.ts';

export const MISFIRE_GRACE_MS = 60_000;
export const RUN_ALL_CAP = 100;
/** How many missed times are walked at most to find the latest one (run_once); beyond, the walk's last. */
const MISSED_WALK_LIMIT = 10_000;

export type MisfirePolicy = 'skip' | 'run_once' | 'run_all';

export interface PlanInput {
  schedule: CronSchedule;
  startAt: Date | null;
  endAt: Date | null;
  misfire: MisfirePolicy;
  /** The latest fire time already planned (null: plan from now, e.g. new, resumed or edited). */
  plannedUntil: Date | null;
  now: Date;
  /** Catch-up runs already made for this outage (the claimed occurrence itself, when it was late). */
  catchUpsDone?: number;
}

export interface PlannedOccurrence {
  scheduledFor: Date;
  dueAt: Date;
  catchUp: boolean;
}

export interface Plan {
  occurrences: PlannedOccurrence[];
  /** The latest fire time planned after this (unchanged when nothing is planned). */
  plannedUntil: Date | null;
  /** No fire time is left: end_at passed, or the expression never fires again. */
  finished: boolean;
}

export function planNext(p: PlanInput): Plan {
  const now = p.now.getTime();
  const graceEdge = now - MISFIRE_GRACE_MS;
  const next = (after: number): Date | null => {
    const t = p.schedule.next(new Date(after));
    return t && (!p.endAt || t < p.endAt) ? t : null;
  };
  // next() is strictly after: start_at itself may fire.
  const startFloor = p.startAt ? p.startAt.getTime() - 1 : -Infinity;
  const from = Math.max(p.plannedUntil ? p.plannedUntil.getTime() : now, startFloor);
  const first = next(from);
  if (!first) return { occurrences: [], plannedUntil: p.plannedUntil, finished: true };
  const at = (t: Date, catchUp: boolean): PlannedOccurrence => ({
    scheduledFor: t,
    dueAt: catchUp ? p.now : t,
    catchUp,
  });
  if (first.getTime() >= graceEdge)
    return { occurrences: [at(first, false)], plannedUntil: first, finished: false };

  // Missed times: walk them (bounded), then find the first time that is not missed.
  const missed: Date[] = [];
  for (
    let t: Date | null = first;
    t && t.getTime() < graceEdge && missed.length < MISSED_WALK_LIMIT;
    t = next(t.getTime())
  )
    missed.push(t);
  const upcoming = next(Math.max(graceEdge - 1, missed.at(-1)!.getTime()));
  const done = p.catchUpsDone ?? 0;
  let catchUps: Date[] = [];
  if (p.misfire === 'run_once' && done === 0) catchUps = [missed.at(-1)!];
  if (p.misfire === 'run_all') catchUps = missed.slice(0, Math.max(0, RUN_ALL_CAP - done));
  const occurrences = catchUps.map((t) => at(t, true));
  if (upcoming) occurrences.push(at(upcoming, false));
  return {
    occurrences,
    plannedUntil: upcoming ?? catchUps.at(-1) ?? missed.at(-1)!,
    finished: upcoming === null,
  };
}
