// The retention cleaner (after River's job cleaner): deletes finished jobs, and with them their
// executions, once they are older than the retention for their status, so the tables do not grow
// forever. Runs in every scheduler; safe with many replicas (SKIP LOCKED), and gentle: it deletes in
// batches and rests between them in proportion to how long each batch took, so catching up on a
// large backlog costs the claim path a bounded share of the database.
import type { Pool } from '../db/pool.ts';
import { delay } from '../lib/delay.ts';
import { deleteFinishedJobs, type FinishedStatus } from '../sql/retention.ts';
import { PeriodicService } from './periodic.ts';
import type { ServiceDeps } from './service.ts';

export interface CleanerDeps extends ServiceDeps {
  pool: Pool;
}

export interface CleanerOptions {
  /** Days a finished job is kept, per final status; 0 keeps forever (RETENTION_*_DAYS, default 7 / 30 / 7). */
  retentionDays: Record<FinishedStatus, number>;
  /** Pause between passes once nothing is left to delete (RETENTION_INTERVAL_MS, default 60 000). */
  intervalMs: number;
  /** Jobs deleted per statement (one short transaction each). Default 1 000. */
  batchSize: number;
  /**
   * Share of wall time the cleaner may spend deleting while it catches up (0 < x ≤ 1): after a batch
   * that took t ms it rests t × (1 / x − 1) ms. Default 0.05: catching up on 1,000,000 old jobs then
   * takes tens of minutes, during which the claim path keeps (nearly) all of the database.
   */
  dutyCycle: number;
  /** Jitter source for the first pass (tests pass a constant). Default Math.random. */
  random?: () => number;
}

export const DEFAULT_CLEANER_OPTIONS: CleanerOptions = {
  retentionDays: { succeeded: 7, failed: 30, cancelled: 7 },
  intervalMs: 60_000,
  batchSize: 1000,
  dutyCycle: 0.05,
};

export type CleanerResult = Record<FinishedStatus, number>;

export class Cleaner extends PeriodicService {
  constructor(
    private readonly deps: CleanerDeps,
    private readonly opts: CleanerOptions,
  ) {
    super();
  }

  /**
   * Deletes everything currently past retention, in batches; returns the counts per status. Reports
   * each batch that deleted something (`deleted`) and the pass (`cleaned`).
   */
  async runOnce(): Promise<CleanerResult> {
    const result: CleanerResult = { succeeded: 0, failed: 0, cancelled: 0 };
    for (const status of ['succeeded', 'cancelled', 'failed'] as const) {
      const days = this.opts.retentionDays[status];
      if (days <= 0) continue;
      while (!this.stopSignal.aborted) {
        const started = performance.now();
        const n = await deleteFinishedJobs(this.deps.pool, status, days, this.opts.batchSize);
        result[status] += n;
        if (n > 0) this.deps.events.emit('deleted', { status, count: n });
        if (n < this.opts.batchSize) break;
        const took = performance.now() - started;
        await delay(took * (1 / this.opts.dutyCycle - 1), this.stopSignal);
      }
    }
    if (result.succeeded + result.failed + result.cancelled > 0)
      this.deps.log.info({ deleted: result }, 'retention cleaner deleted finished jobs');
    this.deps.events.emit('cleaned', { deleted: result });
    return result;
  }

  /** The first pass comes at a random point of the interval, so replicas started together do not all clean at once. */
  protected timing() {
    const { intervalMs, random = Math.random } = this.opts;
    return { intervalMs, firstDelayMs: random() * intervalMs };
  }

  protected pass() {
    return this.runOnce();
  }

  protected passFailed(err: unknown) {
    this.deps.log.warn({ err: { message: (err as Error).message } }, 'retention pass failed');
  }
}
