// Keeps every live schedule's next occurrence in the table ahead of its time, so it fires as
// precisely as a one-off job:
// - afterClaim() runs inside the claim's transaction: when the latest planned occurrence of a
//   schedule is claimed, the next one is created in the same commit (no double occurrence with many
//   schedulers — the unique index; none lost if this process dies — nothing commits without it). It
//   also applies overlap (skip an occurrence while the previous one still runs or retries) and
//   misfire (an occurrence claimed after its grace — the schedule's period, at least 5 s, at most 60 s: planner.ts).
// - repairOnce() runs periodically in every scheduler: a schedule whose plan broke (its pending
//   occurrence was cancelled by the user) is planned again.
import { withTransaction, type Pool, type Queryable } from '../db/pool.ts';
import { RUN_ALL_CAP, type MisfirePolicy, type Plan } from '../schedules/planner.ts';
import { applyPlans, planFor } from '../schedules/plans.ts';
import type { ClaimedJob } from '../sql/scheduler.ts';
import * as sql from '../sql/schedules.ts';
import type { AfterClaim } from './claimer.ts';
import type { OccurrencePlanned } from './events.ts';
import { inBatches, PeriodicService } from './periodic.ts';
import type { ServiceDeps } from './service.ts';

export interface OccurrencePlannerOptions {
  /** Time between repair passes (SCHEDULER_PLAN_REPAIR_INTERVAL_MS, default 2 000). */
  repairIntervalMs: number;
  /** Wake sleeping schedulers for a repaired occurrence due within this (the poll interval). */
  notifyWithinMs: number;
  /** Schedules repaired per transaction. Default 100. */
  repairBatch?: number;
  /** Jitter source for the first repair pass. Default Math.random. */
  random?: () => number;
  /** JOB_MAX_ACTIVE_PER_USER: occurrences count against it like creates (see afterClaim). */
  maxActivePerUser: number;
}

export type SkipReason = 'overlap' | 'misfire' | 'quota';

export interface OccurrencePlannerDeps extends ServiceDeps {
  pool: Pool;
  /** The clock of the quota cache (default performance.now). */
  now?: () => number;
}

/** How long a user's counted active jobs are trusted before counting again (as the API does). */
const QUOTA_CACHE_MS = 2_000;

const OVERLAP_REASON = 'skipped: the previous occurrence was still running or retrying (overlap: skip)';
const missedReason = (policy: MisfirePolicy) =>
  policy === 'skip'
    ? 'skipped: missed, not fired before its next fire time was due or within a minute (misfire: skip)'
    : policy === 'run_once'
      ? 'skipped: missed; misfire run_once runs only the latest missed time'
      : `skipped: missed; misfire run_all runs only the latest ${RUN_ALL_CAP} missed times`;
const quotaReason = (max: number) =>
  `skipped: the user already had ${max} active jobs, the most JOB_MAX_ACTIVE_PER_USER allows (this occurrence would exceed it)`;

export class OccurrencePlanner extends PeriodicService {
  /** Per user: active jobs counted, when, and occurrences claimed since (bumped locally). */
  private readonly activeCounts = new Map<string, { n: number; at: number }>();

  constructor(
    private readonly deps: OccurrencePlannerDeps,
    private readonly opts: OccurrencePlannerOptions,
  ) {
    super();
  }

  /**
   * The fresh occurrences in `jobs` that would take their user past maxActivePerUser. Occurrences
   * count like creates: a per-second schedule retrying against a dead target would otherwise pile up
   * active jobs without limit. Counted in the claim's transaction, one statement for every user not
   * counted in the last QUOTA_CACHE_MS (or near the limit); between replicas the limit can overshoot
   * by what the others claim within that time, as for API creates.
   */
  private async overQuota(tx: Queryable, jobs: ClaimedJob[]): Promise<Set<string>> {
    const max = this.opts.maxActivePerUser;
    const now = this.deps.now ? this.deps.now() : performance.now();
    const byUser = new Map<string, ClaimedJob[]>();
    for (const j of jobs) byUser.set(j.user_id, [...(byUser.get(j.user_id) ?? []), j]);
    const stale = [...byUser].flatMap(([u, js]) => {
      const c = this.activeCounts.get(u);
      return !c || now - c.at >= QUOTA_CACHE_MS || c.n + js.length > max ? [u] : [];
    });
    if (stale.length) {
      if (this.activeCounts.size > 100_000) this.activeCounts.clear();
      // The claimed occurrences are running now, so counted already: the cache then adds nothing.
      for (const [u, n] of await sql.countActiveJobs(tx, stale, max + 1))
        this.activeCounts.set(u, { n, at: now });
    }
    const over = new Set<string>();
    for (const [u, js] of byUser) {
      const c = this.activeCounts.get(u)!;
      if (!stale.includes(u)) c.n += js.length; // counted before this claim: add what it claimed
      // The claimed ones are part of c.n: the newest beyond the limit are the ones to skip.
      const excess = Math.min(js.length, c.n - max);
      for (const j of js.slice(js.length - Math.max(0, excess))) over.add(j.id);
      c.n -= Math.max(0, excess);
    }
    return over;
  }

  /**
   * Inside the claim transaction: plans the next occurrence of every schedule whose latest planned
   * occurrence was just claimed, and turns claimed occurrences that must not run (overlap, misfire
   * skip) into skipped ones. Returns the claimed jobs that should run; what it planned is reported
   * once the claim commits (`committed`).
   */
  async afterClaim(tx: Queryable, jobs: ClaimedJob[]): Promise<AfterClaim> {
    // Occurrences being fired: first attempts of the first round. A retry is a plain retry, and a
    // re-drive (a later round) runs as the user asked: neither is judged (overlap, misfire, quota)
    // nor plans anything, whatever its schedule does meanwhile (paused, finished, deleted).
    const fresh = jobs.filter((j) => j.schedule_id !== null && j.attempts === 1 && j.round === 1);
    if (fresh.length === 0) return { run: jobs };
    const now = fresh[0]!.db_now;
    const schedules = new Map(
      (await sql.lockSchedulesForPlanning(tx, [...new Set(fresh.map((j) => j.schedule_id!))])).map((s) => [
        s.id,
        s,
      ]),
    );
    // The occurrence at a live schedule's planned_until is its current one: its claim plans the next
    // and decides its fate (misfire, see planner.ts). An older one (handed back by a stopping
    // scheduler) runs as it is.
    const plans = new Map<string, { schedule: sql.ScheduleRow & { locked: boolean }; plan: Plan }>();
    const planned = new Set<string>(); // one plan per schedule
    for (const j of fresh) {
      const s = schedules.get(j.schedule_id!);
      if (!s || s.paused || s.finished_at || planned.has(s.id)) continue;
      if (s.planned_until && j.scheduled_for! < s.planned_until) continue;
      const plan = planFor(s, now, !s.planned_until ? null : j.catch_up ? 'catch_up' : 'first_firing');
      if (plan) plans.set(j.id, { schedule: s, plan });
      planned.add(s.id);
    }
    // Overlap concerns current occurrences, catch-ups aside (they run one after another).
    const mayOverlap = fresh.filter(
      (j) => plans.has(j.id) && !j.catch_up && schedules.get(j.schedule_id!)!.overlap === 'skip',
    );
    const busy = await sql.busyOccurrences(
      tx,
      mayOverlap.map((j) => j.id),
    );
    const skips: { job: ClaimedJob; reason: string; why: SkipReason }[] = [];
    const overQuota = await this.overQuota(
      tx,
      fresh.filter((j) => !busy.has(j.id)),
    );
    const catchUps: string[] = [];
    for (const j of fresh) {
      const current = plans.get(j.id);
      const fate = current?.plan.claimed ?? 'run';
      const skip = (reason: string, why: SkipReason) => skips.push({ job: j, reason, why });
      if (busy.has(j.id)) skip(OVERLAP_REASON, 'overlap');
      else if (fate === 'skip') skip(missedReason(current!.schedule.misfire), 'misfire');
      else if (overQuota.has(j.id)) skip(quotaReason(this.opts.maxActivePerUser), 'quota');
      else if (fate === 'catch_up') catchUps.push(j.id);
    }
    // Plans only of schedules this claim holds (never waited for: lock order, CLAUDE.md): an edit,
    // pause or delete replaces the plan itself; otherwise the repair pass plans it.
    const held = [...plans.values()].filter((p) => p.schedule.locked);
    await applyPlans(tx, held, null);
    await sql.skipOccurrences(
      tx,
      skips.map(({ job, reason }) => ({
        id: job.id,
        leaseToken: job.lease_token,
        attempt: job.attempts,
        reason,
      })),
    );
    if (catchUps.length) await sql.markCatchUp(tx, catchUps);
    const skipped = new Set(skips.map((s) => s.job.id));
    for (const j of jobs) if (catchUps.includes(j.id)) j.catch_up = true;
    const report: OccurrencePlanned[] = [
      ...skips.map(({ job, why }) => ({
        kind: 'skipped' as const,
        scheduleId: job.schedule_id!,
        scheduledFor: job.scheduled_for!,
        jobId: job.id,
        reason: why,
      })),
      ...plansReport(held),
    ];
    return { run: jobs.filter((j) => !skipped.has(j.id)), committed: () => this.report(report) };
  }

  private report(planned: OccurrencePlanned[]): void {
    for (const p of planned) this.deps.events.emit('occurrencePlanned', p);
  }

  /** One repair pass; returns how many occurrences it created. */
  async repairOnce(): Promise<{ planned: number }> {
    const batch = this.opts.repairBatch ?? 100;
    const created = await inBatches(batch, async () => {
      const { did, saw, report } = await withTransaction(this.deps.pool, async (tx) => {
        const broken = await sql.lockSchedulesNeedingPlan(tx, batch);
        const now = await sql.databaseNow(tx);
        const plans = broken.flatMap((s) => {
          const plan = planFor(s, now);
          return plan ? [{ schedule: s, plan }] : [];
        });
        const did = await applyPlans(tx, plans, this.opts.notifyWithinMs);
        return { did, saw: broken.length, report: plansReport(plans) };
      });
      this.report(report); // committed
      return { did, saw };
    });
    if (created > 0)
      this.deps.log.info({ planned: created }, 'planned occurrences for schedules whose plan broke');
    return { planned: created };
  }

  protected timing() {
    const { repairIntervalMs: intervalMs, random = Math.random } = this.opts;
    return { intervalMs, firstDelayMs: random() * intervalMs };
  }

  protected pass() {
    return this.repairOnce();
  }

  protected passFailed(err: unknown) {
    this.deps.log.warn({ err: { message: (err as Error).message } }, 'schedule repair failed');
  }
}

/** What applying `plans` writes: each occurrence, and the missed times skipped without one. */
function plansReport(plans: { schedule: { id: string }; plan: Plan }[]): OccurrencePlanned[] {
  return plans.flatMap(({ schedule, plan }) => [
    ...plan.occurrences.map((o) => ({
      kind: 'created' as const,
      scheduleId: schedule.id,
      scheduledFor: o.scheduledFor,
      catchUp: o.catchUp,
    })),
    ...(plan.skipped ? [{ kind: 'missed' as const, scheduleId: schedule.id, count: plan.skipped }] : []),
  ]);
}
