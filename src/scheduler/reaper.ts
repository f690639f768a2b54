// The reaper: running jobs whose lease expired (their worker crashed, hung, or lost the database) get
// the same retry decision as any failed attempt (nextStep with `lost`): back to `retrying` after the
// backoff, or `failed` when their attempts are used up, each with a `lost` execution row. Safe in every
// scheduler at once: rows are taken FOR UPDATE SKIP LOCKED. Its first pass comes at a random point of
// the interval (as in graphile-worker and River), so replicas started together do not reap in step.
import { withTransaction, type Pool } from '../db/pool.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { nextStep } from '../jobs/retryDecision.ts';
import { lockExpiredLeases, rescueExpired } from '../sql/scheduler.ts';
import type { SchedulerEvents } from './events.ts';
import { runPeriodically } from './periodic.ts';

export interface ReaperOptions {
  /** Time between passes (SCHEDULER_REAPER_INTERVAL_MS, default 5 000). */
  intervalMs: number;
  /** Jobs rescued per transaction; a pass repeats until fewer come back. Default 500. */
  batchSize?: number;
  /** Jitter source for the first pass and the retry delays. Default Math.random. */
  random?: () => number;
}

export interface ReaperDeps {
  pool: Pool;
  log: Logger;
  metrics: Metrics;
  events: SchedulerEvents;
}

export class Reaper {
  private readonly abort = new AbortController();
  private running: Promise<void> | null = null;

  constructor(
    private readonly opts: ReaperOptions,
    private readonly deps: ReaperDeps,
  ) {}

  /** One pass; returns how many jobs it rescued. */
  async runOnce(): Promise<{ rescued: number }> {
    const batch = this.opts.batchSize ?? 500;
    let rescued = 0;
    for (;;) {
      const n = await withTransaction(this.deps.pool, async (tx) => {
        const expired = await lockExpiredLeases(tx, batch);
        return rescueExpired(
          tx,
          expired.map((j) => {
            const step = nextStep(j, 'lost', this.opts.random);
            return {
              id: j.id,
              attempt: j.attempts,
              status: step.status,
              delayMs: step.delayMs,
              owner: j.lease_owner,
            };
          }),
        );
      });
      rescued += n;
      if (n < batch) break;
    }
    if (rescued > 0) {
      this.deps.metrics.reaperRescues.inc(rescued);
      this.deps.log.warn({ rescued }, 'reaper rescued jobs with expired leases');
    }
    this.deps.events.emit('reaped', { rescued });
    return { rescued };
  }

  start(): void {
    this.running ??= runPeriodically({
      intervalMs: this.opts.intervalMs,
      firstDelayMs: (this.opts.random ?? Math.random)() * this.opts.intervalMs,
      signal: this.abort.signal,
      pass: () => this.runOnce(),
      onError: (err) =>
        this.deps.log.warn({ err: { message: (err as Error).message } }, 'reaper pass failed'),
    });
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }
}
