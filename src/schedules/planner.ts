// Which occurrences of a schedule to create next, pure: the claim of an occurrence and the repair
// pass both ask this, with the database's answers (how far the schedule is planned) and the clock
// passed in.
//
// Misfire. A fire time is on time while a scheduler reaches it within its grace: the gap to the
// schedule's next fire time, but at least MISFIRE_MIN_GRACE_MS (5 s) and at most MISFIRE_GRACE_MS
// (60 s). So an hourly schedule has a minute, a per-minute one until the next minute is due, and a
// per-second one 5 s: a scheduler a second or two behind (a GC pause, a replaced process, a
// database failover) fires every second late rather than skipping them, a burst of at most five.
// Reached
// later, it was missed (every scheduler was down, or too far behind), and so was every fire time
// after it up to now: a miss is never fired as a burst of slightly-late times. The policy says which
// missed times run, as catch-ups (due now, flagged catch_up): `skip` none, `run_once` the latest,
// `run_all` the latest RUN_ALL_CAP, oldest first. The others are counted as skipped (`skipped`); the
// schedule then goes on with the fire time after the latest missed one (a future one).
//
// Catch-ups run one after another in time order: only the next one exists at a time, created in the
// claim of the previous one. So the claim of a run_all catch-up judges nothing: the miss goes on,
// every fire time after it up to now is missed too. After the one catch-up of run_once, planning
// goes on as after any claim.
import type { CronSchedule } from './cron.ts';

export const MISFIRE_GRACE_MS = 60_000;
/** The least grace, for schedules that fire more often than this (see Misfire above). */
export const MISFIRE_MIN_GRACE_MS = 5_000;
/** The most missed times run_all runs after one miss (the latest ones); older ones are skipped. */
export const RUN_ALL_CAP = 100;
/**
 * Missed times counted at most per miss: counting walks them one by one inside the claim (about
 * 3 µs each, so 30 ms at most). A longer miss of a frequent schedule counts this many.
 */
export const MISSED_COUNT_LIMIT = 10_000;

export type MisfirePolicy = 'skip' | 'run_once' | 'run_all';

/**
 * What the occurrence at plannedUntil is, when it was just claimed: a first firing (judged: on time
 * or missed), a catch-up (the miss it belongs to goes on), or nothing to judge (null: repair, API).
 */
export type ClaimedOccurrence = 'first_firing' | 'catch_up' | null;

export interface PlanInput {
  schedule: CronSchedule;
  startAt: Date | null;
  endAt: Date | null;
  misfire: MisfirePolicy;
  /** The latest fire time already planned (null: plan from now, e.g. new, resumed or edited). */
  plannedUntil: Date | null;
  now: Date;
  /** The occurrence at plannedUntil, when its claim asks (default null). */
  claimed?: ClaimedOccurrence;
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
  /**
   * The claimed occurrence's fate (`run` unless it was a first firing that was missed): run as
   * planned, run as a catch-up, or skip it as missed (the policy runs later times instead).
   */
  claimed: 'run' | 'catch_up' | 'skip';
  /** Missed times that get no occurrence at all (the claimed one aside): counted as skipped. */
  skipped: number;
  /** How many fire times this miss counted (claimed one included; 0: nothing missed). */
  missed: number;
}

const CAP: Record<MisfirePolicy, number> = { skip: 0, run_once: 1, run_all: RUN_ALL_CAP };

export function planNext(p: PlanInput): Plan {
  const now = p.now.getTime();
  const next = (after: number): number | null => {
    const t = p.schedule.next(new Date(after));
    return t && (!p.endAt || t < p.endAt) ? t.getTime() : null;
  };
  const at = (t: number, catchUp: boolean): PlannedOccurrence => ({
    scheduledFor: new Date(t),
    dueAt: catchUp ? p.now : new Date(t),
    catchUp,
  });
  const claimed = p.plannedUntil ? (p.claimed ?? null) : null;
  // next() is strictly after: start_at itself may fire.
  const startFloor = p.startAt ? p.startAt.getTime() - 1 : -Infinity;
  const from = Math.max(p.plannedUntil ? p.plannedUntil.getTime() : now, startFloor);
  const first = next(from);
  const unchanged = { claimed: 'run' as const, skipped: 0, missed: 0 };

  // The earliest fire time to judge: the claimed one, else the first unplanned one if it has passed.
  // The claim of a run_all catch-up judges nothing: the miss goes on, every time up to now is missed.
  const continues = claimed === 'catch_up' && p.misfire === 'run_all';
  const judged =
    claimed === 'first_firing' ? p.plannedUntil!.getTime() : first !== null && first <= now ? first : null;
  const afterJudged = judged === null || judged !== first ? first : next(first);
  let missedFrom: number | null = null;
  if (continues) missedFrom = first !== null && first <= now ? first : null;
  else if (
    judged !== null &&
    (now - judged > MISFIRE_GRACE_MS ||
      (afterJudged !== null && afterJudged <= now && now - judged > MISFIRE_MIN_GRACE_MS))
  )
    missedFrom = judged;

  if (missedFrom === null) {
    // On time. A claimed first firing runs; the next time is planned due at its time (at once when
    // it passed within its grace: the repair of a plan, or a claim a moment late).
    if (first === null)
      return { occurrences: [], plannedUntil: p.plannedUntil, finished: true, ...unchanged };
    return { occurrences: [at(first, false)], plannedUntil: new Date(first), finished: false, ...unchanged };
  }

  const m = missedTimes(next, missedFrom, now, CAP[p.misfire]);
  const runs = m.latest;
  // The claimed first firing is the earliest missed time: it runs only when every missed time does.
  const claimedMissed = claimed === 'first_firing';
  const claimedRuns = claimedMissed && runs[0] === missedFrom;
  const skipped = Math.max(0, m.count - runs.length - (claimedMissed && !claimedRuns ? 1 : 0));
  const fate = claimedMissed ? (claimedRuns ? ('catch_up' as const) : ('skip' as const)) : ('run' as const);
  // The next catch-up, if any is left: only one exists at a time (its claim plans the one after).
  const nextCatchUp = claimedRuns ? runs[1] : runs[0];
  if (nextCatchUp !== undefined)
    return {
      occurrences: [at(nextCatchUp, true)],
      plannedUntil: new Date(nextCatchUp),
      finished: false,
      claimed: fate,
      skipped,
      missed: m.count,
    };
  const upcoming = next(m.last);
  return {
    occurrences: upcoming === null ? [] : [at(upcoming, false)],
    plannedUntil: new Date(upcoming ?? m.last),
    finished: upcoming === null,
    claimed: fate,
    skipped,
    missed: m.count,
  };
}

/**
 * The fire times from `from` (a fire time, at most now) up to now: how many (at most
 * MISSED_COUNT_LIMIT), the last one, and the latest `keep` of them in time order.
 */
function missedTimes(
  next: (after: number) => number | null,
  from: number,
  now: number,
  keep: number,
): { count: number; last: number; latest: number[] } {
  const latest: number[] = [];
  let count = 0;
  let t: number | null = from;
  let last = from;
  for (; t !== null && t <= now && count < MISSED_COUNT_LIMIT; t = next(t)) {
    count++;
    last = t;
    if (keep > 0) {
      latest.push(t);
      if (latest.length > keep) latest.shift();
    }
  }
  if (t === null || t > now) return { count, last, latest };
  // More than the count limit: the latest ones are found backwards from now (a search, not a walk).
  const back: number[] = [];
  let before = now + 1;
  do {
    const found = latestBefore(next, before, last + 1);
    if (found === null) break;
    back.unshift(found);
    before = found;
  } while (back.length < Math.max(1, keep));
  if (back.length === 0) return { count, last, latest };
  // The count stays a lower bound (the times between the walk and these are not counted).
  return {
    count: count + back.length,
    last: back.at(-1)!,
    latest: keep > 0 ? [...latest, ...back].slice(-keep) : [],
  };
}

/**
 * The latest fire time in [floor, before), or null: widen a window back from `before` until the
 * first fire time after its start is inside, then bisect on "the first fire time after x comes
 * before `before`", which holds for every x below the answer and for none from it on.
 */
function latestBefore(next: (after: number) => number | null, before: number, floor: number): number | null {
  const holds = (x: number) => {
    const n = next(x);
    return n !== null && n < before;
  };
  let lo = floor - 1;
  for (let span = 60_000; before - span > lo; span *= 4) {
    if (holds(before - span)) {
      lo = before - span;
      break;
    }
  }
  if (!holds(lo)) return null;
  let hi = before; // holds(before) is false: nothing after it comes before it
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (holds(mid)) lo = mid;
    else hi = mid;
  }
  // holds(lo) and not holds(lo + 1): the fire time after lo is lo + 1 itself.
  return hi;
}
