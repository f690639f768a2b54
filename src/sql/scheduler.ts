// SQL of the scheduler. Every write about an attempt is fenced by its lease token: a row that no
// longer carries that token (reaped, cancelled) is left alone and the result recorded as such.
import type { Queryable } from '../db/pool.ts';
import type { Outcome } from '../jobs/stateMachine.ts';
import type { RetryColumns } from './jobs.ts';
import {
  APPLY_VERDICT,
  RELEASE_LEASE,
  WAITING,
  holdsLease,
  notifyDue,
  signingVersions,
} from './fragments.ts';

/** One array per key, in the given order: rows turned into the parallel arrays that `unnest()` takes. */
function columns<T, K extends keyof T>(rows: T[], keys: K[]): T[K][][] {
  return keys.map((k) => rows.map((r) => r[k]));
}

export interface ClaimedJob extends RetryColumns {
  id: string;
  user_id: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | null;
  timeout_ms: number;
  attempts: number;
  /** The job's round (a re-drive starts the next): the attempt's execution row belongs to it. */
  round: number;
  lease_token: string;
  /** Milliseconds the attempt was already late when the claim returned it (database clock). */
  late_ms: number;
  signing_versions: number[];
  /** Set on a schedule's occurrences. */
  schedule_id: string | null;
  scheduled_for: Date | null;
  catch_up: boolean;
  /** The database clock at the claim (schedules are planned against it). */
  db_now: Date;
  /** The W3C traceparent of the request that created the job, if it was traced. */
  trace_parent: string | null;
}

/**
 * Claims up to `batch` due jobs for `workerId`. Users already at `perUserCap` running jobs are skipped
 * and each user gets at most the slots left under the cap, so one user's backlog cannot starve others.
 *
 * Tenant isolation: due users are found first, one user_queues row each (migration 0008), and only
 * the due jobs of users under the cap are read, through jobs_user_due_idx. A capped user's backlog is
 * never read, however long: before 0008 a claim filtered it row by row (~60 ms per claim for 200,000
 * jobs, for everyone). Rows are locked with SKIP LOCKED, so concurrent schedulers never claim the same
 * job. The claim leaves next_due early; settleDue raises it.
 */
export async function claimDueJobs(
  db: Queryable,
  p: { workerId: string; batch: number; perUserCap: number; leaseMs: number },
): Promise<ClaimedJob[]> {
  const { rows } = await db.query<ClaimedJob>({
    name: 'djs_claim',
    text: `WITH running AS (
       SELECT user_id, count(*) AS n FROM jobs WHERE status = 'running' GROUP BY user_id
     ), due_users AS MATERIALIZED (
       -- next_due is never later than a user's earliest waiting job, so these are all users that may
       -- have one due; those at the cap are passed over here, by one row each. A user whose next_due
       -- is early (nothing due after all) costs a probe and takes a place under the LIMIT until
       -- settled (settleDue).
       SELECT q.user_id, $3 - coalesce(r.n, 0) AS slots
         FROM user_queues q LEFT JOIN running r USING (user_id)
        WHERE q.next_due <= now() AND coalesce(r.n, 0) < $3
        ORDER BY q.next_due
        LIMIT $2
     ), fair AS MATERIALIZED (
       -- Each user's earliest due jobs, no more than the slots it has left; then the earliest of all.
       -- Read without locking, twice what we may take, so that rows another scheduler is claiming
       -- just now can be skipped below without leaving this claim short.
       SELECT c.ctid FROM due_users d CROSS JOIN LATERAL (
         SELECT ctid, next_attempt_at FROM jobs
          WHERE user_id = d.user_id AND ${WAITING} AND next_attempt_at <= now()
          ORDER BY next_attempt_at
          LIMIT least(d.slots, $2)
       ) c
       ORDER BY c.next_attempt_at
       LIMIT 2 * $2
     ), candidates AS MATERIALIZED (
       -- Rows are found again by their physical address (a TID scan, here and in the UPDATE: no
       -- index descent). Every part of the statement reads one snapshot, so an address cannot point
       -- at another row. A row a concurrent transaction changed and committed since is re-checked
       -- against these conditions when locked (a claim, cancel or result makes it fail them); one
       -- still waiting after the change is left for the next claim (the UPDATE cannot see its new
       -- version), which only makes this claim shorter. Once locked, a row stays where it is.
       SELECT ctid FROM jobs
        WHERE ctid = ANY (ARRAY(SELECT ctid FROM fair)) AND ${WAITING} AND next_attempt_at <= now()
        ORDER BY next_attempt_at
        LIMIT $2
        FOR UPDATE SKIP LOCKED
     )
     UPDATE jobs j
          SET status = 'running', attempts = j.attempts + 1, lease_token = gen_random_uuid(), lease_owner = $1,
              lease_expires_at = now() + make_interval(secs => $4::float8 / 1000), heartbeat_at = now(), updated_at = now()
         FROM users u
        WHERE j.ctid = ANY (ARRAY(SELECT ctid FROM candidates)) AND u.id = j.user_id
       RETURNING j.id, j.user_id, j.method, j.url, j.headers, j.body, j.timeout_ms, j.retry_strategy, j.max_attempts,
                 j.base_delay_ms, j.max_delay_ms, j.attempts, j.round, j.lease_token,
                 (extract(epoch FROM clock_timestamp() - greatest(j.next_attempt_at, j.created_at)) * 1000)::float8 AS late_ms,
                 ${signingVersions('u')} AS signing_versions, j.schedule_id, j.scheduled_for, j.catch_up,
                 now() AS db_now, j.trace_parent`,
    values: [p.workerId, p.batch, p.perUserCap, p.leaseMs],
  });
  return rows;
}

export interface NextDue {
  /** When the next claimable job is due, in ms from now (null: none is, but capped users' may be). */
  inMs: number | null;
  /** The same as a database-clock epoch ms. */
  atMs: number | null;
  /** A user at the cap has jobs due: only a freed slot (a recorded result) makes them claimable. */
  cappedDue: boolean;
  /** Users whose next_due has passed with nothing due (left early by claims): settleDue tidies them. */
  stale: number;
}

/** Users with a passed next_due that a look reads at most; the rest bound the time from below. */
const LOOK_LIMIT = 1000;

/**
 * When the next claimable job is due. A read: a user whose next_due has passed (claims leave it
 * early) is looked up in jobs_user_due_idx, one probe each, like the single min() of a global due
 * index before 0008; users beyond LOOK_LIMIT bound the time by the last next_due read (they can have
 * nothing due earlier), which may make it early, never late.
 * Users at the cap with jobs due are left out of the time (only a freed slot makes those claimable,
 * so polling for them would only load the database) and reported in `cappedDue`; a capped user's
 * future time counts (it may have a slot by then).
 */
export async function nextDue(db: Queryable, perUserCap: number): Promise<NextDue> {
  const { rows } = await db.query<{
    in_ms: number | null;
    at_ms: number | null;
    capped_due: boolean;
    stale: number;
  }>({
    name: 'djs_next_due',
    text: `WITH passed AS MATERIALIZED (
       SELECT q.next_due,
              (SELECT min(j.next_attempt_at) FROM jobs j WHERE j.user_id = q.user_id AND ${WAITING}) AS due,
              (SELECT count(*) FROM jobs r WHERE r.user_id = q.user_id AND r.status = 'running') >= $1 AS capped
         FROM user_queues q
        WHERE q.next_due <= now()
        ORDER BY q.next_due
        LIMIT $2
     )
     SELECT (extract(epoch FROM m - clock_timestamp()) * 1000)::float8 AS in_ms,
            (extract(epoch FROM m) * 1000)::float8 AS at_ms, capped_due, stale
       FROM (SELECT least(
                (SELECT q.next_due FROM user_queues q
                  WHERE q.next_due > now() AND q.next_due < 'infinity' ORDER BY q.next_due LIMIT 1),
                (SELECT min(due) FROM passed WHERE NOT capped OR due > now()),
                -- Users past the LIMIT: no earlier than the last one read.
                (SELECT max(next_due) FROM passed HAVING count(*) = $2)) AS m,
              EXISTS (SELECT 1 FROM passed WHERE capped AND due <= now()) AS capped_due,
              (SELECT count(*) FROM passed WHERE due IS NULL OR due > now())::int AS stale) t`,
    values: [perUserCap, LOOK_LIMIT],
  });
  const r = rows[0]!;
  return { inMs: r.in_ms, atMs: r.at_ms, cappedDue: r.capped_due, stale: r.stale };
}

/**
 * Raises the next_due of users whose time has passed with nothing due (djs_settle_due: its own
 * transaction, under the lock protocol of migration 0008). Claims leave next_due early; such users
 * cost every claim and look one index probe until settled.
 */
export async function settleDue(db: Queryable, limit: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>({
    name: 'djs_settle_due',
    text: `SELECT djs_settle_due($1) AS n`,
    values: [limit],
  });
  return rows[0]!.n;
}

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
  const { rows } = await db.query<{ job_id: string; outcome: Outcome }>({
    name: 'djs_record',
    text: `WITH input AS (
       SELECT * FROM unnest($2::uuid[], $3::uuid[], $4::int[], $5::text[], $6::float8[], $7::text[], $8::int[],
                            $9::text[], $10::text[], $11::bool[], $12::float8[], $13::int[], $14::text[], $15::int[])
         AS t(id, lease, attempt, status, delay_ms, outcome, status_code, error, response_body, truncated, started_ago_ms,
              duration_ms, encoding, round)
     ), upd AS (
       UPDATE jobs j SET ${APPLY_VERDICT}
         FROM input i
        WHERE ${holdsLease('j', 'i')}
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
       SELECT ${notifyDue('min(next_attempt_at)')} FROM upd WHERE status = 'retrying' HAVING count(*) > 0
     ), ins AS (
       INSERT INTO job_executions (job_id, round, attempt, worker_id, started_at, finished_at, duration_ms, outcome,
                                   status_code, error, response_body, response_truncated, response_body_encoding)
       SELECT i.id, i.round, i.attempt, $1, now() - make_interval(secs => i.started_ago_ms / 1000), now(), i.duration_ms,
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
     SELECT ins.job_id, ins.outcome, (SELECT count(*) FROM wake) AS woke FROM ins`,
    values: [
      workerId,
      ...columns(recs, [
        'id',
        'leaseToken',
        'attempt',
        'newStatus',
        'retryDelayMs',
        'outcome',
        'statusCode',
        'error',
        'responseBody',
        'responseTruncated',
        'startedAgoMs',
        'durationMs',
        'responseEncoding',
        'round',
      ]),
    ],
  });
  return new Map(rows.map((r) => [r.job_id, r.outcome]));
}

/** Extends the leases this worker still holds; returns the ids it still holds (others were lost). */
export async function heartbeat(
  db: Queryable,
  leases: { id: string; leaseToken: string }[],
  leaseMs: number,
): Promise<Set<string>> {
  if (leases.length === 0) return new Set();
  const { rows } = await db.query<{ id: string }>({
    name: 'djs_heartbeat',
    text: `UPDATE jobs j SET lease_expires_at = now() + make_interval(secs => $3::float8 / 1000), heartbeat_at = now()
       FROM unnest($1::uuid[], $2::uuid[]) AS i(id, lease)
      WHERE ${holdsLease('j', 'i')}
     RETURNING j.id`,
    values: [...columns(leases, ['id', 'leaseToken']), leaseMs],
  });
  return new Set(rows.map((r) => r.id));
}

/** Gives unfinished jobs back at shutdown: due now, and the interrupted attempt is not counted. */
export async function handBack(db: Queryable, leases: { id: string; leaseToken: string }[]): Promise<number> {
  if (leases.length === 0) return 0;
  const { rows } = await db.query<{ id: string }>(
    `WITH upd AS (
       UPDATE jobs j SET status = 'retrying', attempts = j.attempts - 1, next_attempt_at = now(), ${RELEASE_LEASE},
              updated_at = now()
         FROM unnest($1::uuid[], $2::uuid[]) AS i(id, lease)
        WHERE ${holdsLease('j', 'i')}
       RETURNING j.id
     )
     SELECT upd.id FROM upd, LATERAL (SELECT ${notifyDue('now()')}) n`,
    columns(leases, ['id', 'leaseToken']),
  );
  return rows.length;
}

export interface ExpiredLease extends RetryColumns {
  id: string;
  attempts: number;
  lease_owner: string;
  heartbeat_at: Date | null;
}

/** Locks running jobs whose lease expired (inside the caller's transaction), skipping ones another reaper holds. */
export async function lockExpiredLeases(db: Queryable, limit: number): Promise<ExpiredLease[]> {
  const { rows } = await db.query<ExpiredLease>(
    `SELECT id, attempts, max_attempts, retry_strategy, base_delay_ms, max_delay_ms, lease_owner, heartbeat_at
       FROM jobs WHERE status = 'running' AND lease_expires_at < now()
      LIMIT $1 FOR UPDATE SKIP LOCKED`,
    [limit],
  );
  return rows;
}

/** Applies the reaper's decisions (retrying after a delay, or failed) and records `lost` executions. */
export async function rescueExpired(
  db: Queryable,
  decisions: {
    id: string;
    attempt: number;
    status: 'succeeded' | 'retrying' | 'failed';
    delayMs: number | null;
    owner: string;
  }[],
): Promise<number> {
  if (decisions.length === 0) return 0;
  const { rows } = await db.query<{ id: string }>(
    `WITH input AS (
       SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::float8[], $5::text[]) AS t(id, attempt, status, delay_ms, owner)
     ), upd AS (
       UPDATE jobs j SET ${APPLY_VERDICT}
         -- An expiry implies status = 'running' (CHECK jobs_lease_iff_running, since 0007), and the rows
         -- were locked as running jobs by lockExpiredLeases in this transaction; why the status is not
         -- tested: see holdsLease.
         FROM input i WHERE j.id = i.id AND j.lease_expires_at < now()
       RETURNING j.id, j.heartbeat_at, j.round
     ), ins AS (
       -- The job's round: the expired lease is this round's attempt (a re-drive needs a failed job).
       INSERT INTO job_executions (job_id, round, attempt, worker_id, started_at, finished_at, outcome, error)
       SELECT i.id, u.round, i.attempt, i.owner, NULL, now(), 'lost', 'lease expired: the worker stopped heartbeating (crash, network or database outage)'
         FROM input i JOIN upd u ON u.id = i.id
       RETURNING job_id
     ), wake AS (
       SELECT ${notifyDue('now()')} FROM upd HAVING count(*) > 0
     )
     SELECT job_id AS id, (SELECT count(*) FROM wake) AS woke FROM ins`,
    columns(decisions, ['id', 'attempt', 'status', 'delayMs', 'owner']),
  );
  return rows.length;
}

/** Jobs due but not started (for the backlog gauge). */
export async function dueBacklog(db: Queryable): Promise<number> {
  // Per due user through jobs_user_due_idx (there is no index on the due time across users).
  const { rows } = await db.query<{ n: number }>(
    `SELECT coalesce(sum((SELECT count(*) FROM jobs j
                           WHERE j.user_id = q.user_id AND ${WAITING}
                             AND j.next_attempt_at <= now())), 0) AS n
       FROM user_queues q WHERE q.next_due <= now()`,
  );
  return rows[0]!.n;
}
