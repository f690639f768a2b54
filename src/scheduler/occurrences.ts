// Keeps every live schedule's next occurrence in the table ahead of its time, so it fires as
// precisely as a one-off job:
// - afterClaim() runs inside the claim's transaction: when the latest planned occurrence of a
//   schedule is claimed, the next one is created in the same commit (no double occurrence with many
//   schedulers — the unique index; none lost if this process dies — nothing commits without it). It
//   also applies overlap (skip an occurrence while the previous one still runs or retries) and
//   misfire (an occurrence claimed more than a minute after its time).
// - repairOnce() runs periodically in every scheduler: a schedule whose plan broke (its pending
//   occurrence was cancelled by the user) is planned again.
import { withTransaction, type Pool, type Queryable } from '../db/pool.ts';
import type { Logger } from '../logger.ts';
import { MISFIRE_GRACE_MS, type Plan } from '../schedules/planner.ts';
import { applyPlans, planFor } from '../schedules/plans.ts';
import type { ClaimedJob } from '../sql/scheduler.ts';
import * as sql from '../sql/schedules.ts';
import { inBatches, PeriodicService } from './periodic.ts';

export interface OccurrencePlannerOptions {
  /** Time between repair passes (SCHEDULER_PLAN_REPAIR_INTERVAL_MS, default 2 000). */
  repairIntervalMs: number;
  /** Wake sleeping schedulers for a repaired occurrence due within this (the poll interval). */
  notifyWithinMs: number;
  /** Schedules repaired per transaction. Default 100. */
  repairBatch?: number;
  /** Jitter source for the first repair pass. Default Math.random. */
  random?: () => number;
}

const OVERLAP_REASON = 'skipped: the previous occurrence was still running or retrying (overlap: skip)';
const MISFIRE_REASON = 'skipped: missed by more than a minute while no scheduler ran (misfire: skip)';

export class OccurrencePlanner extends PeriodicService {
  constructor(
    private readonly opts: OccurrencePlannerOptions,
    private readonly deps: { pool: Pool; log: Logger },
  ) {
    super();
  }

  /**
   * Inside the claim transaction: plans the next occurrence of every schedule whose latest planned
   * occurrence was just claimed, and turns claimed occurrences that must not run (overlap, misfire
   * skip) into skipped ones. Returns the claimed jobs that should run.
   */
  async afterClaim(tx: Queryable, jobs: ClaimedJob[]): Promise<ClaimedJob[]> {
    // Only first attempts are occurrences being fired; retries of one are plain retries.
    const fresh = jobs.filter((j) => j.schedule_id !== null && j.attempts === 1);
    if (fresh.length === 0) return jobs;
    const now = fresh[0]!.db_now;
    const schedules = new Map(
      (await sql.lockSchedulesForPlanning(tx, [...new Set(fresh.map((j) => j.schedule_id!))])).map((s) => [
        s.id,
        s,
      ]),
    );
    // Overlap and misfire concern the schedule's current occurrence (the one at planned_until). An
    // older one is a catch-up already decided, or one a user re-drove: it runs as asked.
    const current = (j: ClaimedJob) => {
      const s = schedules.get(j.schedule_id!);
      return !!s && (!s.planned_until || j.scheduled_for! >= s.planned_until);
    };
    const mayOverlap = fresh.filter((j) => current(j) && schedules.get(j.schedule_id!)!.overlap === 'skip');
    const busy = await sql.busyOccurrences(
      tx,
      mayOverlap.map((j) => j.id),
    );
    const skips: { id: string; leaseToken: string; attempt: number; reason: string }[] = [];
    const catchUps: string[] = [];
    const latest = new Map<string, ClaimedJob>();
    for (const j of fresh) {
      const s = schedules.get(j.schedule_id!);
      const late = current(j) && !j.catch_up && j.scheduled_for!.getTime() < now.getTime() - MISFIRE_GRACE_MS;
      if (busy.has(j.id))
        skips.push({ id: j.id, leaseToken: j.lease_token, attempt: j.attempts, reason: OVERLAP_REASON });
      else if (late && s?.misfire === 'skip')
        skips.push({ id: j.id, leaseToken: j.lease_token, attempt: j.attempts, reason: MISFIRE_REASON });
      else if (late) catchUps.push(j.id);
      const l = latest.get(j.schedule_id!);
      if (!l || j.scheduled_for! > l.scheduled_for!) latest.set(j.schedule_id!, j);
    }
    const plans: { schedule: sql.ScheduleRow; plan: Plan }[] = [];
    for (const [id, j] of latest) {
      const s = schedules.get(id);
      // Plan only from the latest planned time: an older occurrence (a catch-up) changes nothing.
      if (!s || s.paused || s.finished_at || (s.planned_until && j.scheduled_for! < s.planned_until))
        continue;
      const plan = planFor(s, now, catchUps.includes(j.id) ? 1 : 0);
      if (plan) plans.push({ schedule: s, plan });
    }
    await applyPlans(tx, plans, null);
    await sql.skipOccurrences(tx, skips);
    if (catchUps.length) await sql.markCatchUp(tx, catchUps);
    const skipped = new Set(skips.map((s) => s.id));
    for (const j of jobs) if (catchUps.includes(j.id)) j.catch_up = true;
    return jobs.filter((j) => !skipped.has(j.id));
  }

  /** One repair pass; returns how many occurrences it created. */
  async repairOnce(): Promise<{ planned: number }> {
    const batch = this.opts.repairBatch ?? 100;
    const planned = await inBatches(batch, () =>
      withTransaction(this.deps.pool, async (tx) => {
        const broken = await sql.lockSchedulesNeedingPlan(tx, batch);
        const now = await sql.databaseNow(tx);
        const plans = broken.flatMap((s) => {
          const plan = planFor(s, now);
          return plan ? [{ schedule: s, plan }] : [];
        });
        return { did: await applyPlans(tx, plans, this.opts.notifyWithinMs), saw: broken.length };
      }),
    );
    if (planned > 0) this.deps.log.info({ planned }, 'planned occurrences for schedules whose plan broke');
    return { planned };
  }

  start(): void {
    this.startEvery(
      this.opts.repairIntervalMs,
      (this.opts.random ?? Math.random)() * this.opts.repairIntervalMs,
      (err) => this.deps.log.warn({ err: { message: (err as Error).message } }, 'schedule repair failed'),
    );
  }

  protected pass() {
    return this.repairOnce();
  }
}
