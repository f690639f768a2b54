// SQL of leases: a scheduler renews the ones it holds and hands them back at shutdown; the reaper
// takes back expired ones. Writes by the holder are fenced by the lease token (holdsLease).
import type { Queryable } from '../db/pool.ts';
import type { RetryColumns } from '../jobs/backoff.ts';
import { APPLY_VERDICT, RELEASE_LEASE, holdsLease, notifyDue } from './fragments.ts';
import { raw, sql } from './sql.ts';

/** Extends the leases this worker still holds; returns the ids it still holds (others were lost). */
export async function heartbeat(
  db: Queryable,
  leases: { id: string; leaseToken: string }[],
  leaseMs: number,
): Promise<Set<string>> {
  if (leases.length === 0) return new Set();
  const { rows } = await db.query<{ id: string }>(
    sql`UPDATE jobs j SET lease_expires_at = now() + make_interval(secs => ${leaseMs}::float8 / 1000), heartbeat_at = now()
          FROM unnest(${leases.map((l) => l.id)}::uuid[], ${leases.map((l) => l.leaseToken)}::uuid[]) AS i(id, lease)
         WHERE ${raw(holdsLease('j', 'i'))}
        RETURNING j.id`.named('djs_heartbeat'),
  );
  return new Set(rows.map((r) => r.id));
}

/** Gives unfinished jobs back at shutdown: due now, and the interrupted attempt is not counted. */
export async function handBack(db: Queryable, leases: { id: string; leaseToken: string }[]): Promise<number> {
  if (leases.length === 0) return 0;
  const { rows } = await db.query<{ id: string }>(
    sql`WITH upd AS (
       UPDATE jobs j SET status = 'retrying', attempts = j.attempts - 1, next_attempt_at = now(), ${raw(RELEASE_LEASE)},
              updated_at = now()
         FROM unnest(${leases.map((l) => l.id)}::uuid[], ${leases.map((l) => l.leaseToken)}::uuid[]) AS i(id, lease)
        WHERE ${raw(holdsLease('j', 'i'))}
       RETURNING j.id
     )
     SELECT upd.id FROM upd, LATERAL (SELECT ${raw(notifyDue('now()'))}) n`,
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
    sql`SELECT id, attempts, max_attempts, retry_strategy, base_delay_ms, max_delay_ms, lease_owner, heartbeat_at
          FROM jobs WHERE status = 'running' AND lease_expires_at < now()
         LIMIT ${limit} FOR UPDATE SKIP LOCKED`,
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
  const col = <K extends keyof (typeof decisions)[number]>(key: K) => decisions.map((d) => d[key]);
  const { rows } = await db.query<{ id: string }>(
    sql`WITH input AS (
       SELECT id, attempt, status, delay_ms, owner
         FROM unnest(${col('id')}::uuid[], ${col('attempt')}::int[], ${col('status')}::text[],
                     ${col('delayMs')}::float8[], ${col('owner')}::text[]) AS t(id, attempt, status, delay_ms, owner)
     ), upd AS (
       UPDATE jobs j SET ${raw(APPLY_VERDICT)}
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
       SELECT ${raw(notifyDue('now()'))} FROM upd HAVING count(*) > 0
     )
     SELECT job_id AS id, (SELECT count(*) FROM wake) AS woke FROM ins`,
  );
  return rows.length;
}
