// SQL of an attempt's result. Every write about an attempt is fenced by its lease token: a row that
// no longer carries that token (reaped, cancelled) is left alone and the result recorded as such.
import type { Queryable } from '../db/pool.ts';
import type { Outcome } from '../jobs/stateMachine.ts';
import { APPLY_VERDICT, holdsLease, notifyDue } from './fragments.ts';
import { raw, sql } from './sql.ts';

export interface AttemptRecord {
  id: string;
  leaseToken: string;
  /** The round of the claim (not the job's round at write time: a late result keeps its own). */
  round: number;
  attempt: number;
  newStatus: 'succeeded' | 'retrying' | 'failed';
  retryDelayMs: number | null;
  outcome: Outcome;
  statusCode: number | null;
  error: string | null;
  responseBody: string | null;
  responseEncoding: 'utf8' | 'base64';
  responseTruncated: boolean;
  /** How long ago (ms, measured on the monotonic clock) the request started; the database dates it. */
  startedAgoMs: number;
  durationMs: number;
}

/**
 * Records many attempts in one round trip. Each job moves to its new status only if it still holds
 * the lease; otherwise the execution row says `cancelled` (the user cancelled this attempt) or
 * `superseded` (the lease was reaped, and the job may have moved on). Returns the outcome actually
 * recorded per job.
 */
export async function recordAttempts(
  db: Queryable,
  workerId: string,
  recs: AttemptRecord[],
): Promise<Map<string, Outcome>> {
  if (recs.length === 0) return new Map();
  const col = <K extends keyof AttemptRecord>(key: K) => recs.map((r) => r[key]);
  const { rows } = await db.query<{ job_id: string; outcome: Outcome }>(
    sql`WITH input AS (
       SELECT id, lease, attempt, status, delay_ms, outcome, status_code, error, response_body, truncated,
              started_ago_ms, duration_ms, encoding, round
         FROM unnest(${col('id')}::uuid[], ${col('leaseToken')}::uuid[], ${col('attempt')}::int[],
                     ${col('newStatus')}::text[], ${col('retryDelayMs')}::float8[], ${col('outcome')}::text[],
                     ${col('statusCode')}::int[], ${col('error')}::text[], ${col('responseBody')}::text[],
                     ${col('responseTruncated')}::bool[], ${col('startedAgoMs')}::float8[], ${col('durationMs')}::int[],
                     ${col('responseEncoding')}::text[], ${col('round')}::int[])
           AS t(id, lease, attempt, status, delay_ms, outcome, status_code, error, response_body, truncated,
                started_ago_ms, duration_ms, encoding, round)
     ), upd AS (
       UPDATE jobs j SET ${raw(APPLY_VERDICT)}
         FROM input i
        WHERE ${raw(holdsLease('j', 'i'))}
       RETURNING j.id, j.status, j.next_attempt_at
     ), gone AS (
       -- The jobs whose lease is gone, as they are now: locked, so a cancel that committed after this
       -- statement's snapshot is seen (the UPDATE above waited for it and then skipped the row, but
       -- the snapshot still says 'running'; labelled from it, such an attempt read 'superseded'). Not
       -- the rows upd changed: this statement could not lock its own new versions. KEY SHARE is
       -- enough to wait for a cancel (it holds FOR UPDATE) and never waits for another scheduler's
       -- result write (FOR NO KEY UPDATE): two batches each holding a late result for a job the
       -- other now runs could otherwise deadlock.
       SELECT j.id, j.status, j.attempts, j.round FROM jobs j
        WHERE j.id IN (SELECT id FROM input) AND j.id NOT IN (SELECT id FROM upd)
          FOR KEY SHARE
     ), wake AS (
       SELECT ${raw(notifyDue('min(next_attempt_at)'))} FROM upd WHERE status = 'retrying' HAVING count(*) > 0
     ), ins AS (
       INSERT INTO job_executions (job_id, round, attempt, worker_id, started_at, finished_at, duration_ms, outcome,
                                   status_code, error, response_body, response_truncated, response_body_encoding)
       SELECT i.id, i.round, i.attempt, ${workerId}, now() - make_interval(secs => i.started_ago_ms / 1000), now(), i.duration_ms,
              -- IN (a hashed subplan), not a join on the CTE: the planner thinks upd has one row and
              -- would nest-loop over it, quadratic in the batch size.
              CASE WHEN i.id IN (SELECT id FROM upd) THEN i.outcome
                   -- Cancelled while this very attempt held the lease (not after a reaper took it
                   -- and another attempt began).
                   WHEN g.status = 'cancelled' AND g.round = i.round AND g.attempts = i.attempt THEN 'cancelled'
                   ELSE 'superseded' END,
              i.status_code, i.error, i.response_body, i.truncated, i.encoding
         FROM input i
         LEFT JOIN gone g ON g.id = i.id
        -- A job deleted meanwhile has nothing to record against.
        WHERE i.id IN (SELECT id FROM upd) OR g.id IS NOT NULL
       RETURNING job_id, outcome
     )
     -- Referenced in the select list so the planner cannot drop the NOTIFY (an unused LEFT JOIN would be removed).
     SELECT ins.job_id, ins.outcome, (SELECT count(*) FROM wake) AS woke FROM ins`.named('djs_record'),
  );
  return new Map(rows.map((r) => [r.job_id, r.outcome]));
}
