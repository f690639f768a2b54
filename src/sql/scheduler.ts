// SQL of the scheduler's claim: which jobs are due, taking them, and when the next one is. The
// writes about a claimed attempt are in attempts.ts (its result) and leases.ts (heartbeats, hand-back,
// expiry).
import type { Queryable } from '../db/pool.ts';
import type { RetryColumns } from '../jobs/backoff.ts';
import { WAITING, signingVersions } from './fragments.ts';
import { raw, sql } from './sql.ts';

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
  const { rows } = await db.query<ClaimedJob>(
    sql`WITH running AS (
       SELECT user_id, count(*) AS n FROM jobs WHERE status = 'running' GROUP BY user_id
     ), due_users AS MATERIALIZED (
       -- next_due is never later than a user's earliest waiting job, so these are all users that may
       -- have one due; those at the cap are passed over here, by one row each. A user whose next_due
       -- is early (nothing due after all) costs a probe and takes a place under the LIMIT until
       -- settled (settleDue).
       SELECT q.user_id, ${p.perUserCap} - coalesce(r.n, 0) AS slots
         FROM user_queues q LEFT JOIN running r USING (user_id)
        WHERE q.next_due <= now() AND coalesce(r.n, 0) < ${p.perUserCap}
        ORDER BY q.next_due
        LIMIT ${p.batch}
     ), fair AS MATERIALIZED (
       -- Each user's earliest due jobs, no more than the slots it has left; then the earliest of all.
       -- Read without locking, twice what we may take, so that rows another scheduler is claiming
       -- just now can be skipped below without leaving this claim short.
       SELECT c.ctid FROM due_users d CROSS JOIN LATERAL (
         SELECT ctid, next_attempt_at FROM jobs
          WHERE user_id = d.user_id AND ${raw(WAITING)} AND next_attempt_at <= now()
          ORDER BY next_attempt_at
          LIMIT least(d.slots, ${p.batch})
       ) c
       ORDER BY c.next_attempt_at
       LIMIT 2 * ${p.batch}
     ), candidates AS MATERIALIZED (
       -- Rows are found again by their physical address (a TID scan, here and in the UPDATE: no
       -- index descent). Every part of the statement reads one snapshot, so an address cannot point
       -- at another row. A row a concurrent transaction changed and committed since is re-checked
       -- against these conditions when locked (a claim, cancel or result makes it fail them); one
       -- still waiting after the change is left for the next claim (the UPDATE cannot see its new
       -- version), which only makes this claim shorter. Once locked, a row stays where it is.
       SELECT ctid FROM jobs
        WHERE ctid = ANY (ARRAY(SELECT ctid FROM fair)) AND ${raw(WAITING)} AND next_attempt_at <= now()
        ORDER BY next_attempt_at
        LIMIT ${p.batch}
        FOR UPDATE SKIP LOCKED
     )
     UPDATE jobs j
          SET status = 'running', attempts = j.attempts + 1, lease_token = gen_random_uuid(), lease_owner = ${p.workerId},
              lease_expires_at = now() + make_interval(secs => ${p.leaseMs}::float8 / 1000), heartbeat_at = now(), updated_at = now()
         FROM users u
        WHERE j.ctid = ANY (ARRAY(SELECT ctid FROM candidates)) AND u.id = j.user_id
       RETURNING j.id, j.user_id, j.method, j.url, j.headers, j.body, j.timeout_ms, j.retry_strategy, j.max_attempts,
                 j.base_delay_ms, j.max_delay_ms, j.attempts, j.round, j.lease_token,
                 (extract(epoch FROM clock_timestamp() - greatest(j.next_attempt_at, j.created_at)) * 1000)::float8 AS late_ms,
                 ${raw(signingVersions('u'))} AS signing_versions, j.schedule_id, j.scheduled_for, j.catch_up,
                 now() AS db_now, j.trace_parent`.named('djs_claim'),
  );
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
  }>(
    sql`WITH passed AS MATERIALIZED (
       SELECT q.next_due,
              (SELECT min(j.next_attempt_at) FROM jobs j WHERE j.user_id = q.user_id AND ${raw(WAITING)}) AS due,
              (SELECT count(*) FROM jobs r WHERE r.user_id = q.user_id AND r.status = 'running') >= ${perUserCap} AS capped
         FROM user_queues q
        WHERE q.next_due <= now()
        ORDER BY q.next_due
        LIMIT ${LOOK_LIMIT}
     )
     SELECT (extract(epoch FROM m - clock_timestamp()) * 1000)::float8 AS in_ms,
            (extract(epoch FROM m) * 1000)::float8 AS at_ms, capped_due, stale
       FROM (SELECT least(
                (SELECT q.next_due FROM user_queues q
                  WHERE q.next_due > now() AND q.next_due < 'infinity' ORDER BY q.next_due LIMIT 1),
                (SELECT min(due) FROM passed WHERE NOT capped OR due > now()),
                -- Users past the LIMIT: no earlier than the last one read.
                (SELECT max(next_due) FROM passed HAVING count(*) = ${LOOK_LIMIT})) AS m,
              EXISTS (SELECT 1 FROM passed WHERE capped AND due <= now()) AS capped_due,
              (SELECT count(*) FROM passed WHERE due IS NULL OR due > now())::int AS stale) t`.named(
      'djs_next_due',
    ),
  );
  const r = rows[0]!;
  return { inMs: r.in_ms, atMs: r.at_ms, cappedDue: r.capped_due, stale: r.stale };
}

/**
 * Raises the next_due of users whose time has passed with nothing due (djs_settle_due: its own
 * transaction, under the lock protocol of migration 0008). Claims leave next_due early; such users
 * cost every claim and look one index probe until settled.
 */
export async function settleDue(db: Queryable, limit: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    sql`SELECT djs_settle_due(${limit}::int) AS n`.named('djs_settle_due'),
  );
  return rows[0]!.n;
}

/** Jobs due but not started (for the backlog gauge). */
export async function dueBacklog(db: Queryable): Promise<number> {
  // Per due user through jobs_user_due_idx (there is no index on the due time across users).
  const { rows } = await db.query<{ n: number }>(
    sql`SELECT coalesce(sum((SELECT count(*) FROM jobs j
                           WHERE j.user_id = q.user_id AND ${raw(WAITING)}
                             AND j.next_attempt_at <= now())), 0) AS n
       FROM user_queues q WHERE q.next_due <= now()`,
  );
  return rows[0]!.n;
}
