// Writes attempt results in batches ("group commit"): while one write is in flight, new results queue
// up and go in the next one, so a burst costs few round trips and a lone result adds no delay.
//
// Two kinds of failure, two answers:
// - Transient (database down, connection lost): the batch stays queued and is retried with backoff.
//   If a lease expires meanwhile, the reaper re-runs the job and our late write is recorded as
//   superseded.
// - Deterministic (SQLSTATE class 22 data exception or 23 constraint violation): retrying the same
//   rows would fail forever and stall every tenant's results behind one bad row. The batch is split
//   in halves until the bad record is alone; the good ones are written, and the bad one is written
//   again as a cleaned fallback (no response body, status code only if valid, an error that says what
//   happened). Only if even that is refused is the result dropped; the lease then expires and the
//   reaper re-runs the job, so nothing is lost, only retried.
import type { Pool } from '../db/pool.ts';
import { isDeterministicWriteError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { recordAttempts, type AttemptRecord } from '../sql/scheduler.ts';

const MAX_BATCH = 500;
// Bounded so an outage cannot grow memory without limit; what is dropped re-runs via the reaper.
const MAX_PENDING = 50_000;
// A fallback row must fit the column checks whatever went wrong with the original.
const MAX_RETRY_DELAY_MS = 7 * 86_400_000;

/** The record stored when the original cannot be: everything a column might refuse is dropped. */
export function fallbackRecord(rec: AttemptRecord, err: unknown): AttemptRecord {
  const e = err as { code?: unknown };
  const code = typeof e.code === 'string' ? e.code : 'unknown';
  const valid = rec.statusCode !== null && rec.statusCode >= 100 && rec.statusCode <= 599;
  const delay =
    rec.retryDelayMs === null ? null : Math.min(Math.max(0, rec.retryDelayMs), MAX_RETRY_DELAY_MS);
  return {
    ...rec,
    statusCode: valid ? rec.statusCode : null,
    retryDelayMs: Number.isFinite(delay) ? delay : 0,
    error:
      `the attempt's result could not be stored as received (database error ${code}); ` +
      'stored without its response body and error text',
    responseBody: null,
    responseEncoding: 'utf8',
    responseTruncated: false,
    startedAgoMs: Number.isFinite(rec.startedAgoMs) ? Math.max(0, rec.startedAgoMs) : 0,
    durationMs: Number.isFinite(rec.durationMs) ? Math.max(0, Math.round(rec.durationMs)) : 0,
  };
}

export interface CompleterHooks {
  /** Called once per written record with the outcome actually recorded (e.g. `superseded`). */
  onRecorded(rec: AttemptRecord, recordedOutcome: string): void;
  /** Called when a record had to be stored as its cleaned fallback. */
  onFallback?(rec: AttemptRecord): void;
}

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
    private readonly hooks: CompleterHooks,
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
    // Records leave the queue only once written (or given up), by identity: a split batch may fail
    // half-way, and push() may shift the queue while a write is in flight.
    const done = new Set<AttemptRecord>();
    try {
      await this.write(batch, done);
      this.backoffMs = 50;
    } catch (err) {
      this.log.warn(
        { err: { message: (err as Error).message }, pending: this.pending.length - done.size },
        'could not record results; retrying',
      );
      const delay = this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, 5_000);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.kick();
      }, delay);
    } finally {
      if (done.size) this.pending = this.pending.filter((r) => !done.has(r));
    }
  }

  /** Writes `recs`, splitting around deterministic failures; transient errors propagate. */
  private async write(recs: AttemptRecord[], done: Set<AttemptRecord>): Promise<void> {
    try {
      const recorded = await recordAttempts(this.pool, this.workerId, recs);
      for (const rec of recs) {
        done.add(rec);
        this.hooks.onRecorded(rec, recorded.get(rec.id) ?? 'superseded');
      }
      return;
    } catch (err) {
      if (!isDeterministicWriteError(err)) throw err;
      if (recs.length > 1) {
        const mid = recs.length >> 1;
        await this.write(recs.slice(0, mid), done);
        await this.write(recs.slice(mid), done);
        return;
      }
      await this.writeFallback(recs[0]!, err, done);
    }
  }

  private async writeFallback(rec: AttemptRecord, err: unknown, done: Set<AttemptRecord>): Promise<void> {
    const code = (err as { code?: string }).code;
    const clean = fallbackRecord(rec, err);
    try {
      const recorded = await recordAttempts(this.pool, this.workerId, [clean]);
      done.add(rec);
      this.log.warn(
        { job_id: rec.id, attempt: rec.attempt, sqlstate: code },
        'result stored as fallback row',
      );
      this.hooks.onFallback?.(clean);
      this.hooks.onRecorded(clean, recorded.get(rec.id) ?? 'superseded');
    } catch (err2) {
      if (!isDeterministicWriteError(err2)) throw err2;
      // Cannot happen with the columns we have; if it does, do not stall everyone else over it.
      done.add(rec);
      this.log.error(
        { job_id: rec.id, attempt: rec.attempt, sqlstate: (err2 as { code?: string }).code },
        'result could not be stored even as a fallback; dropped (the reaper will re-run the job)',
      );
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
