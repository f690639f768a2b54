// The reaper: running jobs whose lease expired (their worker crashed, hung, or lost the database) get
// the same retry decision as any failed attempt (nextStep with `lost`): back to `retrying` after the
// backoff, or `failed` when their attempts are used up, each with a `lost` execution row. Safe in every
// scheduler at once: rows are taken FOR UPDATE SKIP LOCKED. Its first pass comes at a random point of
// the interval (as in graphile-worker and River), so replicas started together do not reap in step.
import { withTransaction, type Pool } from '../db/pool.ts';
import { nextStep } from '../jobs/retryDecision.ts';
import { lockExpiredLeases, rescueExpired } from '../sql/leases.ts';
import { inBatches, PeriodicService } from './periodic.ts';
import type { ServiceDeps } from './service.ts';

export interface ReaperOptions {
  /** Time between passes (SCHEDULER_REAPER_INTERVAL_MS, default 5 000). */
  intervalMs: number;
  /** Jobs rescued per transaction; a pass repeats until fewer come back. Default 500. */
  batchSize?: number;
  /** Jitter source for the first pass and the retry delays. Default Math.random. */
  random?: () => number;
}

export interface ReaperDeps extends ServiceDeps {
  pool: Pool;
}

export class Reaper extends PeriodicService {
  constructor(
    private readonly deps: ReaperDeps,
    private readonly opts: ReaperOptions,
  ) {
    super();
  }

  /** One pass; returns how many jobs it rescued. */
  async runOnce(): Promise<{ rescued: number }> {
    const batch = this.opts.batchSize ?? 500;
    const rescued = await inBatches(batch, () =>
      withTransaction(this.deps.pool, async (tx) => {
        const expired = await lockExpiredLeases(tx, batch);
        const did = await rescueExpired(
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
        return { did, saw: expired.length };
      }),
    );
    if (rescued > 0) this.deps.log.warn({ rescued }, 'reaper rescued jobs with expired leases');
    this.deps.events.emit('reaped', { rescued });
    return { rescued };
  }

  protected timing() {
    const { intervalMs, random = Math.random } = this.opts;
    return { intervalMs, firstDelayMs: random() * intervalMs };
  }

  protected pass() {
    return this.runOnce();
  }

  protected passFailed(err: unknown) {
    this.deps.log.warn({ err: { message: (err as Error).message } }, 'reaper pass failed');
  }
}
