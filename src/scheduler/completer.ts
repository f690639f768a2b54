// Writes attempt results in batches ("group commit"): while one write is in flight, new results queue
// up and go in the next one, so a burst costs few round trips and a lone result adds no delay.
// A failed write (database down) is retried with backoff; the results stay queued. If the lease
// expires meanwhile, the reaper re-runs the job and our late write is recorded as superseded.
import type { Pool } from '../db/pool.ts';
import type { Logger } from '../logger.ts';
import { recordAttempts, type AttemptRecord } from '../sql/scheduler.ts';

const MAX_BATCH = 500;
// Bounded so an outage cannot grow memory without limit; what is dropped re-runs via the reaper.
const MAX_PENDING = 50_000;

export class Completer {
  private pending: AttemptRecord[] = [];
  private writing: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private backoffMs = 50;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly pool: Pool,
    private readonly workerId: string,
    private readonly log: Logger,
    private readonly onRecorded: (rec: AttemptRecord, recordedOutcome: string) => void,
  ) {}

  /** Queues a result for writing. */
  push(rec: AttemptRecord): void {
    if (this.pending.length >= MAX_PENDING) {
      const dropped = this.pending.shift()!;
      this.log.error(
        { job_id: dropped.id },
        'result buffer full; dropping a result (the reaper will re-run the job)',
      );
    }
    this.pending.push(rec);
    this.kick();
  }

  /** Leases of results not yet written: still ours, so heartbeats keep extending them. */
  pendingLeases(): { id: string; leaseToken: string }[] {
    return this.pending.map((r) => ({ id: r.id, leaseToken: r.leaseToken }));
  }

  get size(): number {
    return this.pending.length;
  }

  private kick(): void {
    if (this.writing || this.retryTimer || this.pending.length === 0) return;
    this.writing = this.flushOnce().finally(() => {
      this.writing = null;
      if (this.pending.length === 0) this.waiters.splice(0).forEach((w) => w());
      else this.kick();
    });
  }

  private async flushOnce(): Promise<void> {
    const batch = this.pending.slice(0, MAX_BATCH);
    try {
      const recorded = await recordAttempts(this.pool, this.workerId, batch);
      this.pending.splice(0, batch.length);
      this.backoffMs = 50;
      for (const rec of batch) this.onRecorded(rec, recorded.get(rec.id) ?? 'superseded');
    } catch (err) {
      this.log.warn(
        { err: { message: (err as Error).message }, pending: this.pending.length },
        'could not record results; retrying',
      );
      const delay = this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, 5_000);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.kick();
      }, delay);
    }
  }

  /** Resolves when everything queued so far is written, or after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.pending.length === 0 && !this.writing) return true;
    let timer: NodeJS.Timeout | undefined;
    const done = new Promise<boolean>((resolve) => {
      this.waiters.push(() => resolve(true));
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const ok = await done;
    clearTimeout(timer);
    return ok;
  }

  stop(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }
}
