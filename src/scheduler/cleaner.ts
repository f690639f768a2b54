// The retention cleaner (after River's job cleaner): deletes finished jobs, and with them their
// executions, once they are older than the retention for their status, so the tables do not grow
// forever. Runs in every scheduler; safe with many replicas (SKIP LOCKED), and gentle: it deletes in
// batches and rests between them in proportion to how long each batch took, so catching up on a
// large backlog costs the claim path a bounded share of the database.
import type { Pool } from '../db/pool.ts';
import type { Logger } from '../logger.ts';
import { delay } from '../lib/delay.ts';
import { deleteFinishedJobs, type FinishedStatus } from '../sql/retention.ts';
import { PeriodicService } from './periodic.ts';

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
    private readonly pool: Pool,
    private readonly opts: CleanerOptions,
    private readonly log: Logger,
    /** Called after each batch that deleted something, and after each pass with its totals. */
    private readonly report: {
      deleted?(status: FinishedStatus, n: number): void;
      pass?(result: CleanerResult): void;
    } = {},
  ) {
    super();
  }

  /** Deletes everything currently past retention, in batches; returns the counts per status. */
  async runOnce(): Promise<CleanerResult> {
    const result: CleanerResult = { succeeded: 0, failed: 0, cancelled: 0 };
    for (const status of ['succeeded', 'cancelled', 'failed'] as const) {
      const days = this.opts.retentionDays[status];
      if (days <= 0) continue;
      while (!this.stopSignal.aborted) {
        const started = performance.now();
        const n = await deleteFinishedJobs(this.pool, status, days, this.opts.batchSize);
        result[status] += n;
        if (n > 0) this.report.deleted?.(status, n);
        if (n < this.opts.batchSize) break;
        const took = performance.now() - started;
        await delay(took * (1 / this.opts.dutyCycle - 1), this.stopSignal);
      }
    }
    if (result.succeeded + result.failed + result.cancelled > 0)
      this.log.info({ deleted: result }, 'retention cleaner deleted finished jobs');
    this.report.pass?.(result);
    return result;
  }

  /** Starts the periodic passes; the first comes at a random point of the interval, so replicas started together do not all clean at once. */
  start(): void {
    this.startEvery(this.opts.intervalMs, (this.opts.random ?? Math.random)() * this.opts.intervalMs, (err) =>
      this.log.warn({ err: { message: (err as Error).message } }, 'retention pass failed'),
    );
  }

  protected pass() {
    return this.runOnce();
  }
}
