// SQL that writes the jobs API's jobs: create (one or a batch), cancel, re-drive. Every statement is
// scoped to the calling user in SQL, so another user's job is indistinguishable from a missing one.
import { onOneConnection, type Queryable } from '../db/pool.ts';
import type { JobStatus } from '../jobs/stateMachine.ts';
import { CANCEL_CHANNEL, RELEASE_LEASE, notifyDue } from './fragments.ts';
import { findJob } from './jobQueries.ts';
import { JOB_COLUMNS, type JobRow, type JobWithLast, type NewBatchJob } from './jobRows.ts';
import { raw, sql } from './sql.ts';

// The jobs service reaches every job statement through one namespace (`jobsSql.findJob`), and
// schedules.ts types its template with RequestColumns: what this module exported before it was split.
export type { JobRow, JobWithLast, NewBatchJob, NewJob, RequestColumns } from './jobRows.ts';
export type { RetryColumns } from '../jobs/backoff.ts';
export type { ExecutionRow } from './executions.ts';
export { listExecutions } from './executions.ts';
export {
  countActive,
  countJobsByStatus,
  findJob,
  findJobsByIdempotencyKeys,
  jobStatus,
  listJobs,
  type ListFilter,
} from './jobQueries.ts';

/**
 * Inserts a batch of jobs in one statement with one NOTIFY (for the earliest, if it is due within
 * `notifyWithinMs`). Items whose idempotency key this user already used are not inserted: the caller
 * compares what comes back (in any order) with what it sent.
 */
export async function insertJobs(
  db: Queryable,
  jobs: NewBatchJob[],
  notifyWithinMs: number,
): Promise<JobRow[]> {
  if (jobs.length === 0) return [];
  // Keyed rows in (user, key) order, whoever inserts them (concurrent single creates, batches): two
  // statements then wait on each other's keys in one order and cannot deadlock. Callers map the
  // rows back by id.
  const sorted = jobs.some((j) => j.idempotencyKey !== null)
    ? jobs
        .map((j) => ({ j, k: j.idempotencyKey === null ? '' : `${j.userId} ${j.idempotencyKey}` }))
        .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
        .map((x) => x.j)
    : jobs;
  const col = <T>(f: (j: NewBatchJob) => T) => sorted.map(f);
  // One array per column: a thousand jobs are still 17 parameters, so the statement is prepared
  // (named) once per connection. Every create goes through it, one job or a thousand; parsing and
  // planning it costs more than executing it for a few rows.
  const { rows } = await db.query<JobRow>(
    sql`WITH ins AS (
       INSERT INTO jobs (id, user_id, name, method, url, headers, body, fire_at, next_attempt_at, timeout_ms,
                         retry_strategy, max_attempts, base_delay_ms, max_delay_ms, idempotency_key, request_hash,
                         trace_parent)
       -- fire_at keeps what the user asked for; a past one is due now, never earlier than its
       -- creation, so old timestamps cannot jump ahead of everyone else's due jobs.
       SELECT i.id, i.user_id, i.name, i.method, i.url, i.headers, i.body, t.at, greatest(t.at, now()), i.timeout_ms,
              i.strategy, i.max_attempts, i.base_delay_ms, i.max_delay_ms, i.key, i.hash, i.trace_parent
         FROM unnest(${col((j) => j.id)}::uuid[], ${col((j) => j.userId)}::uuid[], ${col((j) => j.name)}::text[],
                     ${col((j) => j.method)}::text[], ${col((j) => j.url)}::text[],
                     ${col((j) => JSON.stringify(j.headers))}::jsonb[], ${col((j) => j.body)}::text[],
                     ${col((j) => j.fireAt)}::timestamptz[], ${col((j) => j.delaySeconds)}::float8[],
                     ${col((j) => j.timeoutMs)}::int[], ${col((j) => j.retry.strategy)}::text[],
                     ${col((j) => j.retry.max_attempts)}::int[], ${col((j) => j.retry.base_delay_ms)}::int[],
                     ${col((j) => j.retry.max_delay_ms)}::int[], ${col((j) => j.idempotencyKey)}::text[],
                     ${col((j) => j.requestHash)}::bytea[], ${col((j) => j.traceParent)}::text[])
                AS i(id, user_id, name, method, url, headers, body, fire_at, delay_s, timeout_ms, strategy, max_attempts,
                     base_delay_ms, max_delay_ms, key, hash, trace_parent),
              LATERAL (SELECT coalesce(i.fire_at, now() + make_interval(secs => i.delay_s)) AS at) t
       ON CONFLICT (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
       RETURNING ${JOB_COLUMNS}
     )
     -- NOTIFY serialises committing transactions on a global queue lock, so only a batch with a job
     -- a sleeping scheduler might otherwise miss sends one: a scheduler re-reads the next due time
     -- at least every poll interval anyway.
     SELECT ${JOB_COLUMNS},
            (SELECT ${raw(notifyDue('min(next_attempt_at)'))} FROM ins
              HAVING min(next_attempt_at) <= now() + make_interval(secs => ${notifyWithinMs}::float8 / 1000)) AS notified
       FROM ins`.named('djs_insert_jobs'),
  );
  return rows;
}

/**
 * Cancels a live job. Returns the job after the call and its status before it (null: no such job of
 * this user). A running job's scheduler is told through NOTIFY to abort the request now.
 */
export async function cancelJob(
  db: Queryable,
  userId: string,
  id: string,
): Promise<{ before: JobStatus; job: JobWithLast } | null> {
  // The answer is read on the connection that wrote, in its transaction: a second checkout after
  // the commit could fail (a busy pool) and answer 503 for a cancel that happened.
  return onOneConnection(db, (c) => cancelAndRead(c, userId, id));
}

async function cancelAndRead(
  db: Queryable,
  userId: string,
  id: string,
): Promise<{ before: JobStatus; job: JobWithLast } | null> {
  const { rows } = await db.query<{ before: JobStatus }>(
    sql`WITH old AS (
       SELECT id, status FROM jobs WHERE id = ${id} AND user_id = ${userId} FOR UPDATE
     ), upd AS (
       UPDATE jobs j SET status = 'cancelled', completed_at = now(), updated_at = now(), ${raw(RELEASE_LEASE)}
         FROM old WHERE j.id = old.id AND old.status IN ('scheduled', 'running', 'retrying')
       RETURNING j.id
     )
     SELECT old.status AS before,
            (SELECT pg_notify(${CANCEL_CHANNEL}, old.id::text)
              WHERE old.status = 'running' AND EXISTS (SELECT 1 FROM upd)) AS notified
       FROM old`,
  );
  if (!rows[0]) return null;
  const job = await findJob(db, userId, { id });
  return job ? { before: rows[0].before, job } : null;
}

/**
 * Re-drives a failed job: the next round, with a fresh attempts budget, due now. Null when it is not
 * a failed job of this user.
 */
export async function redriveJob(db: Queryable, userId: string, id: string): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    sql`WITH upd AS (
       UPDATE jobs SET status = 'scheduled', attempts = 0, round = round + 1, next_attempt_at = now(),
                       completed_at = NULL, updated_at = now()
        WHERE id = ${id} AND user_id = ${userId} AND status = 'failed'
       RETURNING ${JOB_COLUMNS}
     )
     SELECT ${JOB_COLUMNS} FROM upd, LATERAL (SELECT ${raw(notifyDue('upd.next_attempt_at'))}) n`,
  );
  return rows[0] ?? null;
}
