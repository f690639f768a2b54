// The scheduler: one process's set of services, wired and started/stopped in order.
//   claimer     takes due jobs and sleeps exactly until the next one (claimer.ts)
//   dispatcher  fires each job, decides the retry, hands the result on (dispatcher.ts)
//   completer   writes results in batches, fenced by lease token (completer.ts)
//   heartbeater renews the leases we hold; aborts requests whose lease was lost (heartbeater.ts)
//   reaper      takes back other workers' expired leases (reaper.ts)
//   cleaner     deletes finished jobs past retention (cleaner.ts)
//   occurrences plans schedules' next occurrences with each claim; repairs broken plans (occurrences.ts)
//   listener    LISTEN for "a job is due" and "a job was cancelled" (listener.ts)
// Each service is built from (deps, options) and reports on `events` (service.ts, events.ts); the
// metrics are derived from those events (metricsFromEvents.ts).
import crypto from 'node:crypto';
import type { Pool } from '../db/pool.ts';
import type { Logger } from '../logger.ts';
import type { Outcome } from '../jobs/stateMachine.ts';
import type { Metrics } from '../observability/metrics.ts';
import { SigningSecretCache } from '../webhooks/secrets.ts';
import { CANCEL_CHANNEL, JOBS_CHANNEL } from '../sql/fragments.ts';
import type { AttemptRecord } from '../sql/attempts.ts';
import { handBack } from '../sql/leases.ts';
import { dueBacklog } from '../sql/scheduler.ts';
import { Claimer } from './claimer.ts';
import { Cleaner, DEFAULT_CLEANER_OPTIONS, type CleanerOptions } from './cleaner.ts';
import { Completer } from './completer.ts';
import { ABORT, Dispatcher } from './dispatcher.ts';
import { SchedulerEvents } from './events.ts';
import type { Executor } from './executor.ts';
import { Heartbeater } from './heartbeater.ts';
import { Listener } from '../db/listener.ts';
import { measureOnScrape, metricsFromEvents } from './metricsFromEvents.ts';
import { Reaper } from './reaper.ts';
import { OccurrencePlanner } from './occurrences.ts';

export interface SchedulerDeps {
  pool: Pool;
  /** The LISTEN connection's database (the pool's). */
  databaseUrl: string;
  executor: Executor;
  log: Logger;
  /** Kept up to date from the events (metricsFromEvents.ts). */
  metrics: Metrics;
  /** Where every service reports; pass the executor's, so its reports arrive here too. Default a new one. */
  events?: SchedulerEvents;
}

/** Every setting of a scheduler; the services' own option types document each field and default. */
export interface SchedulerOptions {
  /** Names this replica in leases and logs (SCHEDULER_WORKER_ID); default a random id. */
  workerId?: string;
  /** Requests in flight at most (SCHEDULER_CONCURRENCY, default 200). */
  concurrency: number;
  /** Jobs per claim query (SCHEDULER_BATCH_SIZE, default 100). */
  batchSize: number;
  /** Running jobs per user across all schedulers (SCHEDULER_USER_MAX_IN_FLIGHT, default 50). */
  perUserCap: number;
  /** Safety-net poll when no NOTIFY arrives (SCHEDULER_POLL_INTERVAL_MS, default 5 000). */
  pollIntervalMs: number;
  /** Lease length (SCHEDULER_LEASE_MS, default 30 000). */
  leaseMs: number;
  /** Lease renewal interval, at most half the lease (SCHEDULER_HEARTBEAT_INTERVAL_MS, default 5 000). */
  heartbeatIntervalMs: number;
  /** Reaper pass interval (SCHEDULER_REAPER_INTERVAL_MS, default 5 000). */
  reaperIntervalMs: number;
  /** On stop, how long in-flight requests may finish before they are handed back (default 20 000). */
  shutdownGraceMs: number;
  /** SECRETS_KEY: derives each user's webhook signing secrets. */
  secretsKey: Buffer;
  /** How often to look for slots freed elsewhere while capped users have jobs due (default 100). */
  cappedPollMs?: number;
  /** How often schedules whose plan broke are planned again (default 2 000). */
  planRepairIntervalMs?: number;
  /**
   * Active jobs per user (JOB_MAX_ACTIVE_PER_USER, as the API enforces on creates; default 100 000):
   * an occurrence that would exceed it is skipped, with the reason recorded.
   */
  maxActivePerUser?: number;
  /** The retention cleaner's settings; defaults in DEFAULT_CLEANER_OPTIONS. */
  cleaner?: Partial<CleanerOptions>;
  /** Jitter source for retry delays and first runs; tests pass a constant to make schedules exact. */
  random?: () => number;
}

/** How long stop() waits for the last results to be written. */
const DRAIN_MS = 5_000;

export class Scheduler {
  readonly workerId: string;
  readonly events: SchedulerEvents;
  readonly cleaner: Cleaner;
  private readonly claimer: Claimer;
  private readonly dispatcher: Dispatcher;
  private readonly completer: Completer;
  private readonly heartbeater: Heartbeater;
  private readonly reaper: Reaper;
  private readonly occurrences: OccurrencePlanner;
  private readonly listener: Listener;
  private stopping: Promise<void> | null = null;

  constructor(
    private readonly deps: SchedulerDeps,
    private readonly opts: SchedulerOptions,
  ) {
    const { pool, log } = deps;
    const events = (this.events =
      deps.events ??
      new SchedulerEvents((err, event) => log.error({ err, event }, 'an event listener failed')));
    this.workerId = opts.workerId ?? `scheduler-${crypto.randomBytes(4).toString('hex')}`;
    // First: the metrics see each event before any other listener can fail it.
    metricsFromEvents(events, deps.metrics);
    measureOnScrape(deps.metrics.backlog, () => dueBacklog(pool));
    const base = { log, events };
    this.completer = new Completer(pool, this.workerId, log, {
      onFallback: (rec) => events.emit('resultFallback', { jobId: rec.id, attempt: rec.attempt }),
      onRecorded: (rec, recorded) => this.onRecorded(rec, recorded as Outcome),
    });
    this.dispatcher = new Dispatcher(
      {
        ...base,
        executor: deps.executor,
        completer: this.completer,
        secrets: new SigningSecretCache(opts.secretsKey),
        // The claimer waits for minClaim free slots when saturated; this is the moment it has them.
        onSettled: (n) => {
          if (opts.concurrency - n === this.claimer.minClaim) this.claimer.wake();
        },
      },
      { random: opts.random },
    );
    this.claimer = new Claimer(
      {
        ...base,
        pool,
        inFlight: () => this.dispatcher.size,
        dispatch: (job, claimedAt, trace) => this.dispatcher.dispatch(job, claimedAt, trace),
        afterClaim: (tx, jobs) => this.occurrences.afterClaim(tx, jobs),
      },
      {
        workerId: this.workerId,
        concurrency: opts.concurrency,
        batchSize: opts.batchSize,
        perUserCap: opts.perUserCap,
        leaseMs: opts.leaseMs,
        pollIntervalMs: opts.pollIntervalMs,
        cappedPollMs: opts.cappedPollMs,
      },
    );
    this.occurrences = new OccurrencePlanner(
      { ...base, pool },
      {
        repairIntervalMs: opts.planRepairIntervalMs ?? 2_000,
        notifyWithinMs: opts.pollIntervalMs,
        random: opts.random,
        maxActivePerUser: opts.maxActivePerUser ?? 100_000,
      },
    );
    this.heartbeater = new Heartbeater(
      {
        ...base,
        pool,
        // Unwritten results keep their lease too: the job is still ours until the write lands.
        leases: () => [...this.dispatcher.leases(), ...this.completer.pendingLeases()],
        onLost: (l) => {
          if (this.dispatcher.abort(l.id, ABORT.leaseLost, l.leaseToken))
            log.info({ job_id: l.id }, 'lease lost (cancelled or reaped); aborting the request');
        },
      },
      { intervalMs: opts.heartbeatIntervalMs, leaseMs: opts.leaseMs },
    );
    this.reaper = new Reaper({ ...base, pool }, { intervalMs: opts.reaperIntervalMs, random: opts.random });
    this.cleaner = new Cleaner(
      { ...base, pool },
      { ...DEFAULT_CLEANER_OPTIONS, random: opts.random, ...opts.cleaner },
    );
    this.listener = new Listener(
      deps.databaseUrl,
      [JOBS_CHANNEL, CANCEL_CHANNEL],
      (channel, payload) => this.onNotification(channel, payload),
      // After a (re)connect anything notified meanwhile was missed: look again.
      () => this.claimer.wake(),
      log,
    );
  }

  /** Starts every service. */
  async start(): Promise<void> {
    await this.listener.start();
    this.claimer.start();
    this.heartbeater.start();
    this.reaper.start();
    this.occurrences.start();
    this.cleaner.start();
    this.deps.log.info({ worker_id: this.workerId, concurrency: this.opts.concurrency }, 'scheduler started');
  }

  get inFlightCount(): number {
    return this.dispatcher.size;
  }

  /** performance.now() of the claim loop's last iteration (the readiness probe checks it moves). */
  get lastLoopAt(): number {
    return this.claimer.lastLoopAt;
  }

  /** One heartbeat now (tests; the heartbeater also runs on its own). */
  heartbeatOnce(): Promise<{ held: number; lost: number }> {
    return this.heartbeater.beatOnce();
  }

  /** One reaper pass now (tests; the reaper also runs on its own). */
  reapOnce(): Promise<{ rescued: number }> {
    return this.reaper.runOnce();
  }

  private onNotification(channel: string, payload: string): void {
    if (channel === CANCEL_CHANNEL) {
      if (this.dispatcher.abort(payload, ABORT.cancelled))
        this.deps.log.debug({ job_id: payload }, 'job cancelled while running; aborting its request');
      return;
    }
    this.claimer.onDue(Number(payload));
  }

  /** The completer wrote `rec` (committed), recorded as `recorded`. */
  private onRecorded(rec: AttemptRecord, recorded: Outcome): void {
    // A result frees its user's slot (committed by now): users at the cap with due jobs can go on.
    this.claimer.slotFreed();
    this.events.emit('attemptRecorded', {
      jobId: rec.id,
      round: rec.round,
      attempt: rec.attempt,
      outcome: recorded,
      // The lease was gone: the user cancelled this attempt, or it was reaped and the job moved on.
      status: recorded === 'superseded' ? null : recorded === 'cancelled' ? 'cancelled' : rec.newStatus,
    });
    // Ids, outcomes and status codes only: never URLs, headers or bodies of users' jobs.
    const line = {
      job_id: rec.id,
      attempt: rec.attempt,
      outcome: recorded,
      status: rec.newStatus,
      status_code: rec.statusCode,
    };
    if (recorded === 'succeeded') this.deps.log.debug(line, 'job state changed');
    // A refused redirect's error quotes its Location: never logged (it may carry tokens).
    else if (rec.statusCode !== null && rec.statusCode >= 300 && rec.statusCode < 400)
      this.deps.log.warn(line, 'attempt did not succeed');
    else this.deps.log.warn({ ...line, error: rec.error?.slice(0, 200) }, 'attempt did not succeed');
  }

  /**
   * Graceful stop: claim nothing more, let in-flight requests finish within the grace period (their
   * leases still renewed), abort the rest and hand them back (due now, attempt not counted), write
   * pending results.
   */
  stop(graceMs = this.opts.shutdownGraceMs): Promise<void> {
    this.stopping ??= this.doStop(graceMs);
    return this.stopping;
  }

  private async doStop(graceMs: number): Promise<void> {
    await Promise.all([
      this.claimer.stop(),
      this.reaper.stop(),
      this.occurrences.stop(),
      this.cleaner.stop(),
    ]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.dispatcher.settled(), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    await this.heartbeater.stop();
    const unfinished = this.dispatcher.abortAll(ABORT.shutdown);
    if (unfinished.length) {
      try {
        const n = await handBack(this.deps.pool, unfinished);
        this.deps.log.info({ handed_back: n }, 'handed unfinished jobs back');
      } catch (err) {
        this.deps.log.warn(
          { err: { message: (err as Error).message } },
          'hand-back failed; leases will expire and the reaper will rescue',
        );
      }
    }
    await this.dispatcher.settled();
    await this.completer.drain(DRAIN_MS);
    this.completer.stop();
    await this.listener.stop();
    this.deps.log.info({ worker_id: this.workerId }, 'scheduler stopped');
  }
}
