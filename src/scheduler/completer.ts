// Writes attempt results in batches ("group commit", src/lib/coalescer.ts): while one write is in
// flight, new results queue up and go in the next one, so a burst costs few round trips and a lone
// result adds no delay.
//
// Two kinds of failure, two answers:
// - Transient (database down, connection lost): the batch stays queued and is retried with backoff.
//   If a lease expires meanwhile, the reaper re-runs the job and our late write is recorded as
//   superseded.
// - Deterministic (SQLSTATE class 22 data exception or 23 constraint violation): retrying the same
//   rows would fail forever and stall every tenant's results behind one bad row. The batch is split
//   in halves until the bad record is alone (src/lib/bisect.ts); the good ones are written, and the
//   bad one is written again as a cleaned fallback (no response body, status code only if valid, an
//   error that says what happened). Only if even that is refused is the result dropped; the lease
//   then expires and the reaper re-runs the job, so nothing is lost, only retried.
import type { Pool } from '../db/pool.ts';
import { isDeterministicWriteError } from '../errors.ts';
import { bisectOnDeterministicError } from '../lib/bisect.ts';
import { Coalescer } from '../lib/coalescer.ts';
import type { Logger } from '../logger.ts';
import { recordAttempts, type AttemptRecord } from '../sql/attempts.ts';

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
  /** Results not yet written, in flight or waiting; those whose write failed transiently wait again. */
  private readonly results: Coalescer<AttemptRecord, void>;

  constructor(
    private readonly pool: Pool,
    private readonly workerId: string,
    private readonly log: Logger,
    private readonly hooks: CompleterHooks,
  ) {
    this.results = new Coalescer(
      (recs) =>
        bisectOnDeterministicError(recs, (batch) => this.write(batch), {
          refused: (rec, err) => this.writeFallback(rec, err),
        }),
      {
        // One write at a time: results that arrive meanwhile go together in the next.
        maxInFlight: 1,
        maxBatch: MAX_BATCH,
        maxWaiting: MAX_PENDING,
        whenFull: 'dropOldest',
        retry: {
          firstDelayMs: 50,
          maxDelayMs: 5_000,
          onRetry: (err, waiting) =>
            log.warn(
              { err: { message: (err as Error).message }, pending: waiting },
              'could not record results; retrying',
            ),
        },
      },
    );
  }

  /** Queues a result for writing. */
  push(rec: AttemptRecord): void {
    // Failures are retried, so the only refusal is the buffer's: this result was the oldest when full.
    this.results
      .submit(rec)
      .catch(() =>
        this.log.error(
          { job_id: rec.id },
          'result buffer full; dropping a result (the reaper will re-run the job)',
        ),
      );
  }

  /** Leases of results not yet written: still ours, so heartbeats keep extending them. */
  pendingLeases(): { id: string; leaseToken: string }[] {
    return this.results.pending().map((r) => ({ id: r.id, leaseToken: r.leaseToken }));
  }

  /** Writes `recs` in one statement (all or nothing) and reports each outcome recorded. */
  private async write(recs: AttemptRecord[]): Promise<void[]> {
    const recorded = await recordAttempts(this.pool, this.workerId, recs);
    for (const rec of recs) this.hooks.onRecorded(rec, recorded.get(rec.id) ?? 'superseded');
    return recs.map(() => undefined);
  }

  /** A record the database refuses, stored as its cleaned fallback; transient errors propagate. */
  private async writeFallback(rec: AttemptRecord, err: unknown): Promise<void> {
    const code = (err as { code?: string }).code;
    const clean = fallbackRecord(rec, err);
    try {
      const recorded = await recordAttempts(this.pool, this.workerId, [clean]);
      this.log.warn(
        { job_id: rec.id, attempt: rec.attempt, sqlstate: code },
        'result stored as fallback row',
      );
      this.hooks.onFallback?.(clean);
      this.hooks.onRecorded(clean, recorded.get(rec.id) ?? 'superseded');
    } catch (err2) {
      if (!isDeterministicWriteError(err2)) throw err2;
      // Cannot happen with the columns we have; if it does, do not stall everyone else over it.
      this.log.error(
        { job_id: rec.id, attempt: rec.attempt, sqlstate: (err2 as { code?: string }).code },
        'result could not be stored even as a fallback; dropped (the reaper will re-run the job)',
      );
    }
  }

  /** Resolves when everything queued so far is written, or after `timeoutMs`. */
  drain(timeoutMs: number): Promise<boolean> {
    return this.results.drain(timeoutMs);
  }

  /** Cancels a pending retry and starts no more writes: what is still queued stays unwritten. */
  stop(): void {
    this.results.stop();
  }
}
