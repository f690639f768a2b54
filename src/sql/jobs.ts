// SQL for the jobs API. Every query is scoped to the calling user in SQL, so another user's job is
// indistinguishable from a missing one.
import { onOneConnection, queryOne, type Queryable } from '../db/pool.ts';
import type { JobStatus, Outcome } from '../jobs/stateMachine.ts';
import type { RetryPolicy } from '../jobs/backoff.ts';
import { CANCEL_CHANNEL, RELEASE_LEASE, WAITING, notifyDue } from './fragments.ts';

/** The outbound request a job (or a schedule's template) makes. */
export interface RequestColumns {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | null;
}

/** The retry policy columns of a job row. */
export interface RetryColumns {
  retry_strategy: 'linear' | 'exponential';
  max_attempts: number;
  base_delay_ms: number;
  max_delay_ms: number;
}

export interface JobRow extends RetryColumns {
  id: string;
  seq: number;
  user_id: string;
  name: string | null;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | null;
  fire_at: Date;
  next_attempt_at: Date;
  timeout_ms: number;
  status: JobStatus;
  /** Attempts made in this round (a re-drive starts the next round, from 0). */
  attempts: number;
  /** 1, plus one per re-drive. */
  round: number;
  idempotency_key: string | null;
  request_hash: Buffer | null;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
  /** Set on a schedule's occurrences. */
  schedule_id: string | null;
  scheduled_for: Date | null;
  catch_up: boolean;
  /** The W3C traceparent of the request that created the job (tracing on only); never in the API. */
  trace_parent: string | null;
}

export interface ExecutionRow {
  id: number;
  job_id: string;
  /** The job's round the attempt belongs to; attempts count from 1 in each. */
  round: number;
  attempt: number;
  started_at: Date | null;
  finished_at: Date;
  duration_ms: number | null;
  outcome: Outcome;
  status_code: number | null;
  error: string | null;
  response_body: string | null;
  response_body_encoding: 'utf8' | 'base64';
  response_truncated: boolean;
}

export type JobWithLast = JobRow & { last_execution: ExecutionRow | null };

// Only the summary fields: a list of 100 jobs must not drag 100 response bodies along. The latest
// in the executions' order (round, attempt, id): a re-drive's attempts come after the earlier round's.
const LAST_EXECUTION = `(SELECT jsonb_build_object('round', e.round, 'attempt', e.attempt, 'started_at', e.started_at,
     'finished_at', e.finished_at, 'duration_ms', e.duration_ms, 'outcome', e.outcome,
     'status_code', e.status_code, 'error', e.error) FROM job_executions e
   WHERE e.job_id = j.id ORDER BY e.round DESC, e.attempt DESC, e.id DESC LIMIT 1) AS last_execution`;

export interface NewJob {
  userId: string;
  name: string | null;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | null;
  fireAt: Date | null; // null: now + delaySeconds
  delaySeconds: number;
  timeoutMs: number;
  retry: RetryPolicy;
  idempotencyKey: string | null;
  requestHash: Buffer | null;
  /** Wake the schedulers only for a job due within this many ms (their poll finds later ones). */
  notifyWithinMs: number;
  /** The creating request's W3C traceparent; null when not tracing. */
  traceParent: string | null;
}

/**
 * The columns of a JobRow, named: a statement that returns them keeps its result type when a later
 * migration adds a column, so it can stay prepared across a rolling deploy (`RETURNING *` in a
 * prepared statement fails with "cached plan must not change result type" once the table changes).
 */
const JOB_COLUMNS = `id, seq, user_id, name, method, url, headers, body, fire_at, next_attempt_at, timeout_ms, status,
  attempts, round, idempotency_key, request_hash, created_at, updated_at, completed_at, schedule_id, scheduled_for,
  catch_up, trace_parent, retry_strategy, max_attempts, base_delay_ms, max_delay_ms`;

/** The user's job by id or by the idempotency key it was created with. */
export async function findJob(
  db: Queryable,
  userId: string,
  by: { id: string } | { idempotencyKey: string },
): Promise<JobWithLast | null> {
  const [column, value] = 'id' in by ? ['id', by.id] : ['idempotency_key', by.idempotencyKey];
  return queryOne<JobWithLast>(
    db,
    `SELECT j.*, ${LAST_EXECUTION} FROM jobs j WHERE j.user_id = $1 AND j.${column} = $2`,
    [userId, value],
  );
}

/** Live jobs of a user, counted up to `cap` (enough to enforce a quota without counting all). */
export async function countActive(db: Queryable, userId: string, cap: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT (SELECT count(*) FROM (SELECT 1 FROM jobs WHERE user_id = $1 AND ${WAITING} LIMIT $2) w)
          + (SELECT count(*) FROM jobs WHERE user_id = $1 AND status = 'running') AS n`,
    [userId, cap],
  );
  return rows[0]!.n;
}

export interface ListFilter {
  /** Only this schedule's occurrences (null: every job of the user). */
  scheduleId?: string | null;
  statuses: JobStatus[] | null;
  fireAtFrom: Date | null;
  fireAtTo: Date | null;
  /** Jobs whose name contains this text, case-insensitively (null: any name). */
  nameContains?: string | null;
  beforeSeq: number | null;
  limit: number;
}

/** A LIKE pattern matching `text` anywhere, with LIKE's wildcards in it taken literally. */
const containsPattern = (text: string | null | undefined) =>
  text ? `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : null;

/** A page of the user's jobs, newest first (keyset on seq); returns up to limit + 1 rows to detect a next page. */
export async function listJobs(db: Queryable, userId: string, f: ListFilter): Promise<JobWithLast[]> {
  const { rows } = await db.query<JobWithLast>(
    `SELECT j.*, ${LAST_EXECUTION} FROM jobs j
      WHERE j.user_id = $1
        AND ($2::text[] IS NULL OR j.status = ANY($2::text[]))
        AND ($3::timestamptz IS NULL OR j.fire_at >= $3)
        AND ($4::timestamptz IS NULL OR j.fire_at < $4)
        AND ($5::bigint IS NULL OR j.seq < $5)
        AND ($7::uuid IS NULL OR j.schedule_id = $7)
        AND ($8::text IS NULL OR j.name ILIKE $8)
      ORDER BY j.seq DESC
      LIMIT $6`,
    [
      userId,
      f.statuses,
      f.fireAtFrom,
      f.fireAtTo,
      f.beforeSeq,
      f.limit + 1,
      f.scheduleId ?? null,
      containsPattern(f.nameContains),
    ],
  );
  return rows;
}

/** How many of the user's jobs are in each status, under the list's filters other than status. */
export async function countJobsByStatus(
  db: Queryable,
  userId: string,
  f: Pick<ListFilter, 'fireAtFrom' | 'fireAtTo' | 'nameContains' | 'scheduleId'>,
): Promise<{ status: JobStatus; n: number }[]> {
  const { rows } = await db.query<{ status: JobStatus; n: number }>(
    `SELECT j.status, count(*)::int AS n FROM jobs j
      WHERE j.user_id = $1
        AND ($2::timestamptz IS NULL OR j.fire_at >= $2)
        AND ($3::timestamptz IS NULL OR j.fire_at < $3)
        AND ($4::text IS NULL OR j.name ILIKE $4)
        AND ($5::uuid IS NULL OR j.schedule_id = $5)
      GROUP BY j.status`,
    [userId, f.fireAtFrom, f.fireAtTo, containsPattern(f.nameContains), f.scheduleId ?? null],
  );
  return rows;
}

/**
 * A page of a job's executions after `after` in (round, attempt, id) order, the order they happened
 * in (a late superseded result sorts with its attempt); up to limit + 1 rows to detect more.
 */
export async function listExecutions(
  db: Queryable,
  jobId: string,
  p: { after: { round: number; attempt: number; id: number } | null; limit: number },
): Promise<ExecutionRow[]> {
  const { rows } = await db.query<ExecutionRow>(
    `SELECT id::float8 AS id, job_id, round, attempt, started_at, finished_at, duration_ms, outcome, status_code,
            error, response_body, response_body_encoding, response_truncated
       FROM job_executions
      WHERE job_id = $1 AND ($2::int IS NULL OR (round, attempt, id) > ($2::int, $3::int, $4::bigint))
      ORDER BY round, attempt, id
      LIMIT $5`,
    [jobId, p.after?.round ?? null, p.after?.attempt ?? null, p.after?.id ?? null, p.limit + 1],
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
    `WITH old AS (
       SELECT id, status FROM jobs WHERE id = $1 AND user_id = $2 FOR UPDATE
     ), upd AS (
       UPDATE jobs j SET status = 'cancelled', completed_at = now(), updated_at = now(), ${RELEASE_LEASE}
         FROM old WHERE j.id = old.id AND old.status IN ('scheduled', 'running', 'retrying')
       RETURNING j.id
     )
     SELECT old.status AS before,
            (SELECT pg_notify('${CANCEL_CHANNEL}', old.id::text) WHERE old.status = 'running' AND EXISTS (SELECT 1 FROM upd)) AS notified
       FROM old`,
    [id, userId],
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
  return queryOne<JobRow>(
    db,
    `WITH upd AS (
       UPDATE jobs SET status = 'scheduled', attempts = 0, round = round + 1, next_attempt_at = now(), completed_at = NULL, updated_at = now()
        WHERE id = $1 AND user_id = $2 AND status = 'failed'
       RETURNING *
     )
     SELECT upd.* FROM upd,
       LATERAL (SELECT ${notifyDue('upd.next_attempt_at')}) n`,
    [id, userId],
  );
}

export async function jobStatus(db: Queryable, userId: string, id: string): Promise<JobStatus | null> {
  const { rows } = await db.query<{ status: JobStatus }>(
    `SELECT status FROM jobs WHERE id = $1 AND user_id = $2`,
    [id, userId],
  );
  return rows[0]?.status ?? null;
}

/** A job of a batch: its id is chosen by the caller, so the answer keeps the batch's order. */
export type NewBatchJob = Omit<NewJob, 'notifyWithinMs'> & { id: string };

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
  // Prepared (named): every create goes through it, one job or a thousand. Parsing and planning it
  // costs more than executing it for a few rows.
  const { rows } = await db.query<JobRow>({
    name: 'djs_insert_jobs',
    text: `WITH ins AS (
       INSERT INTO jobs (id, user_id, name, method, url, headers, body, fire_at, next_attempt_at, timeout_ms,
                         retry_strategy, max_attempts, base_delay_ms, max_delay_ms, idempotency_key, request_hash,
                         trace_parent)
       -- fire_at keeps what the user asked for; a past one is due now, never earlier than its
       -- creation, so old timestamps cannot jump ahead of everyone else's due jobs.
       SELECT i.id, i.user_id, i.name, i.method, i.url, i.headers, i.body, t.at, greatest(t.at, now()), i.timeout_ms,
              i.strategy, i.max_attempts, i.base_delay_ms, i.max_delay_ms, i.key, i.hash, i.trace_parent
         FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::text[],
                     $8::timestamptz[], $9::float8[], $10::int[], $11::text[], $12::int[], $13::int[], $14::int[],
                     $15::text[], $16::bytea[], $18::text[])
                AS i(id, user_id, name, method, url, headers, body, fire_at, delay_s, timeout_ms, strategy, max_attempts,
                     base_delay_ms, max_delay_ms, key, hash, trace_parent),
              LATERAL (SELECT coalesce(i.fire_at, now() + make_interval(secs => i.delay_s)) AS at) t
       ON CONFLICT (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
       RETURNING ${JOB_COLUMNS}
     )
     -- NOTIFY serialises committing transactions on a global queue lock, so only a batch with a job
     -- a sleeping scheduler might otherwise miss sends one: a scheduler re-reads the next due time
     -- at least every poll interval anyway.
     SELECT ins.*, (SELECT ${notifyDue('min(next_attempt_at)')} FROM ins
                     HAVING min(next_attempt_at) <= now() + make_interval(secs => $17::float8 / 1000)) AS notified
       FROM ins`,
    values: [
      col((j) => j.id),
      col((j) => j.userId),
      col((j) => j.name),
      col((j) => j.method),
      col((j) => j.url),
      col((j) => JSON.stringify(j.headers)),
      col((j) => j.body),
      col((j) => j.fireAt),
      col((j) => j.delaySeconds),
      col((j) => j.timeoutMs),
      col((j) => j.retry.strategy),
      col((j) => j.retry.max_attempts),
      col((j) => j.retry.base_delay_ms),
      col((j) => j.retry.max_delay_ms),
      col((j) => j.idempotencyKey),
      col((j) => j.requestHash),
      notifyWithinMs,
      col((j) => j.traceParent),
    ],
  });
  return rows;
}

/** The user's jobs created with any of these idempotency keys. */
export async function findJobsByIdempotencyKeys(
  db: Queryable,
  userId: string,
  keys: string[],
): Promise<JobWithLast[]> {
  if (keys.length === 0) return [];
  const { rows } = await db.query<JobWithLast>(
    `SELECT j.*, ${LAST_EXECUTION} FROM jobs j WHERE j.user_id = $1 AND j.idempotency_key = ANY($2::text[])`,
    [userId, keys],
  );
  return rows;
}
