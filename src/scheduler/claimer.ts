// The claim loop: takes due jobs (FOR UPDATE SKIP LOCKED, see sql/scheduler.ts) and hands them to
// the dispatcher, then sleeps exactly until the next due job — asked of the database as a delay, so
// app and database clocks are never compared. NOTIFY wakes it early for a sooner job, a freed slot
// wakes it when saturated or when users at their cap have jobs due, and the poll interval is only
// the safety net. Bursts are claimed in back-to-back batches.
import { withTransaction, type Pool, type Queryable } from '../db/pool.ts';
import { isDatabaseUnavailable, isTransactionConflict } from '../errors.ts';
import { claimDueJobs, nextDue, settleDue, type ClaimedJob } from '../sql/scheduler.ts';
import { StartStopService, type ServiceDeps } from './service.ts';
import { WakeableSleep } from './wakeableSleep.ts';
import { isTracingEnabled, recordClaimSpan, type TraceParent } from '../observability/tracing.ts';

export interface ClaimerOptions {
  /** Names this scheduler in the leases it takes (SCHEDULER_WORKER_ID; default a random id). */
  workerId: string;
  /** Requests in flight at most (SCHEDULER_CONCURRENCY, default 200). */
  concurrency: number;
  /** Jobs per claim query at most (SCHEDULER_BATCH_SIZE, default 100). */
  batchSize: number;
  /** Running jobs per user across all schedulers (SCHEDULER_USER_MAX_IN_FLIGHT, default 50). */
  perUserCap: number;
  /** Lease length given to each claimed job (SCHEDULER_LEASE_MS, default 30 000). */
  leaseMs: number;
  /** Longest sleep when no NOTIFY arrives: the safety net (SCHEDULER_POLL_INTERVAL_MS, default 5 000). */
  pollIntervalMs: number;
  /** How often to look for slots freed by other schedulers while capped users have jobs due (default 100). */
  cappedPollMs?: number;
}

/** What a claim's planning step decided (see ClaimerDeps.afterClaim). */
export interface AfterClaim {
  /** The claimed jobs to dispatch. */
  run: ClaimedJob[];
  /** Called once the claim has committed (what it planned is then reported). */
  committed?(): void;
}

export interface ClaimerDeps extends ServiceDeps {
  pool: Pool;
  /** Requests this process has in flight now. */
  inFlight(): number;
  /**
   * Starts one claimed job; `claimedAt` is performance.now() when the claim returned, `trace` the
   * claim's span (null when not tracing).
   */
  dispatch(job: ClaimedJob, claimedAt: number, trace: TraceParent | null): void;
  /**
   * Runs inside the claim's transaction before it commits (plans schedules' next occurrences);
   * says which claimed jobs to dispatch.
   */
  afterClaim(tx: Queryable, jobs: ClaimedJob[]): Promise<AfterClaim>;
}

/**
 * Claims that lost a lock race (deadlock, serialization failure) retried at once, in a row; after
 * that the loop backs off as after any error. Such a claim was rolled back whole: nothing to undo.
 */
const CONFLICT_RETRIES = 3;
/** How long to wait before looking again when a due job could not be claimed twice in a row. */
const STUCK_RETRY_MS = 50;
/** Stale users (see nextDue) that make a look settle them at once, and the most it settles. */
const SETTLE_AT_STALE = 20;
const SETTLE_LIMIT = 200;
/** Otherwise stale users are settled at most this often. */
const SETTLE_EVERY_MS = 1000;
/** How often to look for slots freed elsewhere while users at the cap have jobs due (default). */
const CAPPED_POLL_MS = 100;

export class Claimer extends StartStopService {
  /** Refill in batches when saturated: a claim costs about the same for 1 row as for 50. */
  readonly minClaim: number;
  /** performance.now() of the last finished iteration: readiness checks that it moves. */
  lastLoopAt = performance.now();
  private readonly sleeper = new WakeableSleep();
  /** Database-clock epoch ms of the job the loop sleeps towards (null: none known, any NOTIFY wakes). */
  private sleepingUntilDbMs: number | null = null;
  private errorBackoffMs = 0;
  private conflictsInARow = 0;
  private emptyClaimsWhileDue = 0;
  /**
   * Jobs are due whose users are at the cap: the scheduler wakes the loop when it records a result
   * (a slot may have freed), and the loop looks again every cappedPollMs for slots freed elsewhere.
   * Set by each look before sleeping; a stale true only costs a wake.
   */
  waitsForFreedSlot = false;
  /** performance.now() of the last settleDue. */
  private settledAt = 0;
  /** Results recorded by this process (slotFreed calls): one that lands during a look is not lost. */
  private freedSlots = 0;

  constructor(
    private readonly deps: ClaimerDeps,
    private readonly opts: ClaimerOptions,
  ) {
    super();
    this.minClaim = Math.max(1, Math.floor(Math.min(opts.batchSize, opts.concurrency) / 4));
  }

  /** One step: claims if there is room, dispatches what it got; returns the ms to wait before the next (0: at once). */
  async claimOnce(): Promise<number> {
    const { opts, deps } = this;
    this.sleepingUntilDbMs = null;
    const freedBefore = this.freedSlots;
    const inFlight = deps.inFlight();
    const free = opts.concurrency - inFlight;
    // Saturated: wait for minClaim free slots (the dispatcher wakes us), unless nearly idle.
    if (free < this.minClaim && !(free > 0 && inFlight < this.minClaim)) return opts.pollIntervalMs;
    // One transaction: a claimed occurrence of a schedule and the creation of its next occurrence
    // commit together, or neither does.
    const claimStart = isTracingEnabled() ? Date.now() : 0;
    const { claimed, planned } = await withTransaction(deps.pool, async (tx) => {
      const all = await claimDueJobs(tx, {
        workerId: opts.workerId,
        batch: Math.min(free, opts.batchSize),
        perUserCap: opts.perUserCap,
        leaseMs: opts.leaseMs,
      });
      return { claimed: all.length, planned: all.length ? await deps.afterClaim(tx, all) : { run: all } };
    });
    planned.committed?.();
    const jobs = planned.run;
    const claimedAt = performance.now();
    // A span only for a claim that got jobs: empty polls would be most of the trace volume.
    const trace = jobs.length && claimStart ? recordClaimSpan(claimStart, { 'djs.claimed': claimed }) : null;
    for (const job of jobs) deps.dispatch(job, claimedAt, trace);
    deps.events.emit('claimed', { count: claimed });
    // Got some: more may be due (or a user near the cap left slots for others): claim again at once.
    if (claimed > 0 || this.stopSignal.aborted) {
      this.emptyClaimsWhileDue = 0;
      return 0;
    }
    const next = await nextDue(deps.pool, opts.perUserCap);
    this.waitsForFreedSlot = next.cappedDue;
    // Users left with a passed next_due and nothing due cost each claim and look a probe (and a place
    // under the claim's LIMIT): settle them when they pile up, or a second after the last settle.
    // Not on every look: that is a write, and at 2,000 jobs/s one user is always in that state.
    const missedDue = next.inMs !== null && next.inMs <= 0; // stale users may have crowded the claim
    const settleNow =
      next.stale >= SETTLE_AT_STALE ||
      (next.stale > 0 && (missedDue || performance.now() - this.settledAt >= SETTLE_EVERY_MS));
    if (settleNow) {
      this.settledAt = performance.now();
      await settleDue(deps.pool, SETTLE_LIMIT);
    }
    // A result recorded while we looked may have freed the slot the look found taken: look again.
    if (next.cappedDue && this.freedSlots !== freedBefore) return 0;
    // Users at the cap with due jobs: this process's results wake the loop, but a slot freed by
    // another scheduler does not, so look again after cappedPollMs (a claim that skips them costs
    // a fraction of a millisecond, whatever their backlog).
    const idleMs = next.cappedDue
      ? Math.min(opts.cappedPollMs ?? CAPPED_POLL_MS, opts.pollIntervalMs)
      : opts.pollIntervalMs;
    if (next.inMs === null || next.atMs === null) {
      this.emptyClaimsWhileDue = 0;
      return idleMs;
    }
    if (next.inMs <= 0) {
      // A job is due that the claim did not take. Usually it just became due between the claim and
      // this query (at hundreds of jobs/s one always has): claim again at once. If that also comes
      // back empty, another scheduler holds it, or (rarely) more users with nothing due than a
      // claim takes crowded the claim until settled: look again shortly. Users at the cap are not
      // in this time (waitsForFreedSlot).
      this.emptyClaimsWhileDue++;
      if (this.emptyClaimsWhileDue === 1) return 0;
      const retryInMs = Math.min(STUCK_RETRY_MS, opts.pollIntervalMs);
      deps.events.emit('dueNotClaimed', { retryInMs });
      return retryInMs;
    }
    this.emptyClaimsWhileDue = 0;
    this.sleepingUntilDbMs = next.atMs;
    return Math.min(next.inMs, idleMs);
  }

  /** A job due at `atMs` (database-clock epoch ms) was created or re-scheduled. */
  onDue(atMs: number): void {
    // Only a job due before the one we sleep towards changes anything.
    if (this.sleepingUntilDbMs === null || !Number.isFinite(atMs) || atMs < this.sleepingUntilDbMs)
      this.wake();
  }

  /** A result of this process was recorded: its user's slot is free now. */
  slotFreed(): void {
    this.freedSlots++;
    if (this.waitsForFreedSlot) this.wake();
  }

  /** Look again now (a slot was freed, or the LISTEN connection came back). */
  wake(): void {
    this.sleeper.wake();
  }

  /** The loop; stop() resolves when it has left (an in-flight claim finishes and is dispatched). */
  protected async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      // A wake from before this look is answered by the look itself.
      this.sleeper.clear();
      let delay: number;
      try {
        delay = await this.claimOnce();
        this.errorBackoffMs = 0;
        this.conflictsInARow = 0;
      } catch (err) {
        const conflict = isTransactionConflict(err);
        if (conflict && ++this.conflictsInARow <= CONFLICT_RETRIES) {
          delay = 0;
        } else {
          this.errorBackoffMs = Math.min(Math.max(this.errorBackoffMs * 2, 100), 5_000);
          delay = this.errorBackoffMs;
        }
        this.deps.log[conflict || isDatabaseUnavailable(err) ? 'warn' : 'error'](
          { err: { message: (err as Error).message }, retry_in_ms: delay },
          delay === 0 ? 'claim lost a lock race; claiming again at once' : 'claim failed; backing off',
        );
      }
      this.lastLoopAt = performance.now();
      if (delay > 0) await this.sleeper.sleep(delay, signal);
    }
  }
}
