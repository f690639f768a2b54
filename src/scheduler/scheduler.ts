// The scheduler: claims due jobs, fires them, records results, heartbeats leases, reaps others'
// expired leases. Precise firing: it sleeps exactly until the earliest due job (asked of the database,
// as a delay, so app and database clocks are never compared), is woken early by NOTIFY when a sooner
// job appears, and falls back to a slow poll if a notification is missed. Bursts are claimed in
// back-to-back batches.
import crypto from 'node:crypto';
import type { Pool } from '../db/pool.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { isDatabaseUnavailable } from '../errors.ts';
import { backoffDelayMs, retryPolicyOf } from '../jobs/backoff.ts';
import { classify, statusAfterAttempt } from '../jobs/stateMachine.ts';
import { deriveSigningSecret } from '../webhooks/secrets.ts';
import { CANCEL_CHANNEL, JOBS_CHANNEL } from '../sql/fragments.ts';
import {
  claimDueJobs,
  dueBacklog,
  handBack,
  heartbeat,
  nextDue,
  type AttemptRecord,
  type ClaimedJob,
} from '../sql/scheduler.ts';
import { Completer } from './completer.ts';
import type { Executor } from './executor.ts';
import { Listener } from './listener.ts';
import { Cleaner, DEFAULT_CLEANER_OPTIONS, type CleanerOptions } from './cleaner.ts';
import { reapExpiredLeases } from './reaper.ts';

export interface SchedulerOptions {
  workerId?: string;
  concurrency: number;
  batchSize: number;
  perUserCap: number;
  pollIntervalMs: number;
  leaseMs: number;
  heartbeatIntervalMs: number;
  reaperIntervalMs: number;
  shutdownGraceMs: number;
  secretsKey: Buffer;
  /** The retention cleaner's settings; defaults in DEFAULT_CLEANER_OPTIONS. */
  cleaner?: Partial<CleanerOptions>;
  /** Jitter source for retry delays; tests pass a constant to make schedules exact. */
  random?: () => number;
}

interface InFlight {
  job: ClaimedJob;
  ctl: AbortController;
}

const ABORT_SHUTDOWN = 'shutdown';

export class Scheduler {
  readonly workerId: string;
  private readonly inFlight = new Map<string, InFlight>();
  private readonly completer: Completer;
  private readonly listener: Listener;
  readonly cleaner: Cleaner;
  private stopping = false;
  private loopDone: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private wakeRequested = false;
  private sleepTimer: NodeJS.Timeout | null = null;
  /** Database-clock epoch ms of the job the loop is sleeping towards (null: idle poll). */
  private sleepingUntilDbMs: number | null = null;
  private errorBackoffMs = 0;
  private emptyClaimsWhileDue = 0;
  /** How often a due job could not be claimed twice in a row (held elsewhere, or its user capped). */
  stuckWaits = 0;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private reaperTimer: NodeJS.Timeout | null = null;
  private readonly secretCache = new Map<string, string>();
  private readonly minClaim: number;
  /** performance.now() of the last completed loop iteration: the readiness probe checks it moves. */
  lastLoopAt = performance.now();

  constructor(
    private readonly pool: Pool,
    databaseUrl: string,
    private readonly executor: Executor,
    private readonly opts: SchedulerOptions,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {
    this.workerId = opts.workerId ?? `scheduler-${crypto.randomBytes(4).toString('hex')}`;
    this.minClaim = Math.max(1, Math.floor(Math.min(opts.batchSize, opts.concurrency) / 4));
    this.completer = new Completer(pool, this.workerId, log, {
      onFallback: () => this.metrics.resultFallbacks.inc(),
      onRecorded: (rec, recorded) => this.onRecorded(rec, recorded),
    });
    this.cleaner = new Cleaner(
      pool,
      { ...DEFAULT_CLEANER_OPTIONS, random: opts.random, ...opts.cleaner },
      log,
      (status, n) => this.metrics.retentionDeleted.inc({ status }, n),
    );
    this.listener = new Listener(
      databaseUrl,
      [JOBS_CHANNEL, CANCEL_CHANNEL],
      (channel, payload) => this.onNotification(channel, payload),
      () => this.wake(),
      log,
    );
  }

  private onRecorded(rec: AttemptRecord, recorded: string): void {
    this.metrics.executions.inc({ outcome: recorded });
    if (recorded === 'superseded') this.metrics.superseded.inc();
    // Ids, outcomes and status codes only: never URLs, headers or bodies of users' jobs.
    const line = {
      job_id: rec.id,
      attempt: rec.attempt,
      outcome: recorded,
      status: rec.newStatus,
      status_code: rec.statusCode,
    };
    if (recorded === 'succeeded') this.log.debug(line, 'job state changed');
    // A refused redirect's error quotes its Location: never logged (it may carry tokens).
    else if (rec.statusCode !== null && rec.statusCode >= 300 && rec.statusCode < 400)
      this.log.warn(line, 'attempt did not succeed');
    else this.log.warn({ ...line, error: rec.error?.slice(0, 200) }, 'attempt did not succeed');
  }

  /** Starts claiming, heartbeating and reaping. */
  async start(): Promise<void> {
    await this.listener.start();
    this.loopDone = this.loop();
    this.scheduleHeartbeat();
    this.scheduleReaper(0);
    this.cleaner.start();
    this.log.info({ worker_id: this.workerId, concurrency: this.opts.concurrency }, 'scheduler started');
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  private onNotification(channel: string, payload: string): void {
    if (channel === CANCEL_CHANNEL) {
      const f = this.inFlight.get(payload);
      if (f) {
        this.log.debug({ job_id: payload }, 'job cancelled while running; aborting its request');
        f.ctl.abort('cancelled');
      }
      return;
    }
    // Only a job due before the one we sleep towards changes anything.
    const at = Number(payload);
    if (this.sleepingUntilDbMs === null || !Number.isFinite(at) || at < this.sleepingUntilDbMs) this.wake();
  }

  private wake(): void {
    this.wakeRequested = true;
    if (this.sleepTimer) clearTimeout(this.sleepTimer);
    this.sleepTimer = null;
    const w = this.wakeUp;
    this.wakeUp = null;
    w?.();
  }

  private sleep(ms: number): Promise<void> {
    if (this.wakeRequested || this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      this.wakeUp = resolve;
      this.sleepTimer = setTimeout(
        () => {
          this.sleepTimer = null;
          this.wakeUp = null;
          resolve();
        },
        Math.max(0, Math.ceil(ms)),
      );
    });
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      this.wakeRequested = false;
      this.sleepingUntilDbMs = null;
      let delay = this.opts.pollIntervalMs;
      const free = this.opts.concurrency - this.inFlight.size;
      // When saturated, refill in batches rather than one claim per finished request: a claim costs
      // about the same for 1 row as for 50.
      if (free >= this.minClaim || (free > 0 && this.inFlight.size < this.minClaim)) {
        try {
          const want = Math.min(free, this.opts.batchSize);
          const jobs = await claimDueJobs(this.pool, {
            workerId: this.workerId,
            batch: want,
            perUserCap: this.opts.perUserCap,
            leaseMs: this.opts.leaseMs,
          });
          const claimedAt = performance.now();
          this.errorBackoffMs = 0;
          for (const job of jobs) this.dispatch(job, claimedAt);
          this.lastLoopAt = performance.now();
          // Got some: more may be due (or a user near the cap left slots for others): claim again at once.
          if (jobs.length > 0) {
            this.emptyClaimsWhileDue = 0;
            continue;
          }
          if (this.stopping) break;
          const next = await nextDue(this.pool);
          if (next) {
            if (next.inMs <= 0) {
              // A job is due that the claim did not take. Usually it just became due between the
              // claim and this query (at hundreds of jobs/s one always has): claim again at once.
              // If that also comes back empty, it is held by another scheduler or its user is at
              // the cap: look again in 50 ms.
              this.emptyClaimsWhileDue++;
              if (this.emptyClaimsWhileDue === 1) continue;
              delay = Math.min(50, this.opts.pollIntervalMs);
              this.stuckWaits++;
            } else {
              this.emptyClaimsWhileDue = 0;
              delay = Math.min(next.inMs, this.opts.pollIntervalMs);
              this.sleepingUntilDbMs = next.atMs;
            }
          } else {
            this.emptyClaimsWhileDue = 0;
          }
        } catch (err) {
          this.errorBackoffMs = Math.min(Math.max(this.errorBackoffMs * 2, 100), 5_000);
          delay = this.errorBackoffMs;
          const level = isDatabaseUnavailable(err) ? 'warn' : 'error';
          this.log[level](
            { err: { message: (err as Error).message }, retry_in_ms: delay },
            'claim failed; backing off',
          );
        }
      }
      this.lastLoopAt = performance.now();
      await this.sleep(delay);
    }
  }

  private secretsFor(job: ClaimedJob): string[] {
    return job.signing_versions.map((v) => {
      const key = `${job.user_id}:${v}`;
      let s = this.secretCache.get(key);
      if (!s) {
        if (this.secretCache.size > 10_000) this.secretCache.clear();
        s = deriveSigningSecret(this.opts.secretsKey, job.user_id, v);
        this.secretCache.set(key, s);
      }
      return s;
    });
  }

  private dispatch(job: ClaimedJob, claimedAt: number): void {
    const ctl = new AbortController();
    this.inFlight.set(job.id, { job, ctl });
    this.metrics.inFlight.set(this.inFlight.size);
    const startedAt = performance.now();
    void this.executor
      .execute(
        {
          webhookId: job.id,
          method: job.method,
          url: job.url,
          headers: job.headers,
          body: job.body,
          timeoutMs: job.timeout_ms,
          secrets: this.secretsFor(job),
        },
        ctl.signal,
      )
      .then((r) => {
        this.metrics.fireLateness.observe(Math.max(0, job.late_ms + (r.sentAt - claimedAt)) / 1000);
        if (r.result.kind === 'aborted' && r.result.reason === ABORT_SHUTDOWN) return; // handed back by stop()
        this.metrics.executionDuration.observe(r.durationMs / 1000);
        const c =
          r.result.kind === 'aborted'
            ? { outcome: 'cancelled' as const, retryable: false }
            : classify(r.result);
        const newStatus = statusAfterAttempt(c, job.attempts, job.max_attempts);
        let retryDelayMs: number | null = null;
        if (newStatus === 'retrying') {
          const policy = retryPolicyOf(job);
          retryDelayMs =
            r.retryAfterMs !== null
              ? Math.min(r.retryAfterMs, policy.max_delay_ms)
              : backoffDelayMs(policy, job.attempts, this.opts.random);
        }
        this.completer.push({
          id: job.id,
          leaseToken: job.lease_token,
          attempt: job.attempts,
          newStatus,
          retryDelayMs,
          outcome: c.outcome,
          statusCode: r.statusCode,
          error: r.error,
          responseBody: r.responseBody,
          responseEncoding: r.responseEncoding,
          responseTruncated: r.responseTruncated,
          startedAgoMs: performance.now() - startedAt,
          durationMs: r.durationMs,
        });
      })
      .catch((err: unknown) => this.log.error({ err, job_id: job.id }, 'unexpected executor failure'))
      .finally(() => {
        this.inFlight.delete(job.id);
        this.metrics.inFlight.set(this.inFlight.size);
        // The loop waits for minClaim free slots when saturated; this is the moment it has them.
        if (this.opts.concurrency - this.inFlight.size === this.minClaim && !this.stopping) this.wake();
      });
  }

  private scheduleHeartbeat(): void {
    this.heartbeatTimer = setTimeout(() => {
      void this.heartbeatOnce().finally(() => {
        if (!this.stopping) this.scheduleHeartbeat();
      });
    }, this.opts.heartbeatIntervalMs);
  }

  /** One batched heartbeat for every lease we hold; requests whose lease is gone are aborted. */
  async heartbeatOnce(): Promise<void> {
    const leases = [
      ...[...this.inFlight.values()].map((f) => ({ id: f.job.id, leaseToken: f.job.lease_token })),
      ...this.completer.pendingLeases(),
    ];
    if (leases.length === 0) return;
    try {
      const held = await heartbeat(this.pool, leases, this.opts.leaseMs);
      for (const l of leases) {
        const f = this.inFlight.get(l.id);
        if (!held.has(l.id) && f && f.job.lease_token === l.leaseToken) {
          this.log.info({ job_id: l.id }, 'lease lost (cancelled or reaped); aborting the request');
          f.ctl.abort('lease lost');
        }
      }
    } catch (err) {
      this.log.warn({ err: { message: (err as Error).message } }, 'heartbeat failed');
    }
  }

  private scheduleReaper(delay: number): void {
    this.reaperTimer = setTimeout(() => {
      void this.reapOnce().finally(() => {
        if (!this.stopping) this.scheduleReaper(this.opts.reaperIntervalMs);
      });
    }, delay);
  }

  /** One reaper pass plus the backlog gauge. */
  async reapOnce(): Promise<number> {
    try {
      const rescued = await reapExpiredLeases(this.pool, this.opts.random);
      if (rescued > 0) {
        this.metrics.reaperRescues.inc(rescued);
        this.log.warn({ rescued }, 'reaper rescued jobs with expired leases');
      }
      this.metrics.backlog.set(await dueBacklog(this.pool));
      return rescued;
    } catch (err) {
      this.log.warn({ err: { message: (err as Error).message } }, 'reaper pass failed');
      return 0;
    }
  }

  /**
   * Graceful stop: claim nothing more, let in-flight requests finish within the grace period, abort
   * the rest and hand them back (due now, attempt not counted), write pending results.
   */
  async stop(graceMs = this.opts.shutdownGraceMs): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.wake();
    await this.loopDone;
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    if (this.reaperTimer) clearTimeout(this.reaperTimer);
    await this.cleaner.stop();
    const deadline = performance.now() + graceMs;
    // Keep leases alive while we wait for the stragglers.
    let lastBeat = performance.now();
    while (this.inFlight.size > 0 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.min(50, Math.max(1, deadline - performance.now()))));
      if (performance.now() - lastBeat > this.opts.heartbeatIntervalMs) {
        await this.heartbeatOnce();
        lastBeat = performance.now();
      }
    }
    const unfinished = [...this.inFlight.values()];
    for (const f of unfinished) f.ctl.abort(ABORT_SHUTDOWN);
    if (unfinished.length) {
      try {
        const n = await handBack(
          this.pool,
          unfinished.map((f) => ({ id: f.job.id, leaseToken: f.job.lease_token })),
        );
        this.log.info({ handed_back: n }, 'handed unfinished jobs back');
      } catch (err) {
        this.log.warn(
          { err: { message: (err as Error).message } },
          'hand-back failed; leases will expire and the reaper will rescue',
        );
      }
    }
    while (this.inFlight.size > 0) await new Promise((r) => setTimeout(r, 5));
    await this.completer.drain(5_000);
    this.completer.stop();
    await this.listener.stop();
    this.log.info({ worker_id: this.workerId }, 'scheduler stopped');
  }
}
