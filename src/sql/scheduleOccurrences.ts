// SQL for schedules' occurrences: ordinary job rows carrying schedule_id and scheduled_for. The unique
// index on (schedule_id, scheduled_for) makes each occurrence exist once whatever races; writes about
// a claimed occurrence are fenced by its lease token like every write about an attempt.
import type { Queryable } from '../db/pool.ts';
import { RELEASE_LEASE, WAITING, holdsLease, notifyDue } from './fragments.ts';
import { raw, sql } from './sql.ts';

export interface NewOccurrence {
  scheduleId: string;
  scheduledFor: Date;
  /** When it is due: its time, or now for a catch-up. */
  dueAt: Date;
  catchUp: boolean;
}

/**
 * Inserts occurrences as ordinary jobs copied from their schedules' templates. Each (schedule, time)
 * exists once: a second planner racing this one inserts nothing. Returns how many were inserted.
 */
export async function insertOccurrences(
  db: Queryable,
  occ: NewOccurrence[],
  /** Wake the schedulers when one is due within this many ms (null: the caller is a claimer, which looks again itself). */
  notifyWithinMs: number | null,
): Promise<number> {
  if (occ.length === 0) return 0;
  // A named (prepared) statement: its text must be the same on every call, whatever the arguments.
  const q = sql`WITH ins AS (
       INSERT INTO jobs (user_id, name, method, url, headers, body, fire_at, next_attempt_at, timeout_ms,
                         retry_strategy, max_attempts, base_delay_ms, max_delay_ms, schedule_id, scheduled_for, catch_up)
       SELECT s.user_id, s.name, s.method, s.url, s.headers, s.body, o.scheduled_for, greatest(o.due_at, now()),
              s.timeout_ms, s.retry_strategy, s.max_attempts, s.base_delay_ms, s.max_delay_ms, s.id, o.scheduled_for,
              o.catch_up
         FROM unnest(${occ.map((o) => o.scheduleId)}::uuid[], ${occ.map((o) => o.scheduledFor)}::timestamptz[],
                     ${occ.map((o) => o.dueAt)}::timestamptz[], ${occ.map((o) => o.catchUp)}::bool[])
                AS o(schedule_id, scheduled_for, due_at, catch_up)
         JOIN schedules s ON s.id = o.schedule_id
       ON CONFLICT (schedule_id, scheduled_for) WHERE schedule_id IS NOT NULL AND status <> 'cancelled' DO NOTHING
       RETURNING next_attempt_at
     )
     SELECT count(*)::int AS n,
            (SELECT ${raw(notifyDue('min(next_attempt_at)'))} FROM ins
              HAVING ${notifyWithinMs}::float8 IS NOT NULL
                 AND min(next_attempt_at) <= now() + make_interval(secs => ${notifyWithinMs}::float8 / 1000)) AS notified
       FROM ins`;
  const { rows } = await db.query<{ n: number }>({
    name: 'djs_insert_occurrences',
    text: q.text,
    values: q.values,
  });
  return rows[0]!.n;
}

/** Renames the schedule's pending occurrences (an edit of the name only keeps them). */
export async function renamePendingOccurrences(
  db: Queryable,
  scheduleId: string,
  name: string | null,
): Promise<void> {
  await db.query(
    sql`UPDATE jobs SET name = ${name}, updated_at = now()
         WHERE schedule_id = ${scheduleId} AND ${raw(WAITING)} AND name IS DISTINCT FROM ${name}`,
  );
}

/**
 * Cancels the schedule's occurrences that have not started (a pause, edit or delete replaces them).
 * A running occurrence finishes; a retrying one is cancelled like a waiting one.
 */
export async function cancelPendingOccurrences(db: Queryable, scheduleId: string): Promise<number> {
  const { rowCount } = await db.query(
    sql`UPDATE jobs SET status = 'cancelled', completed_at = now(), updated_at = now(), ${raw(RELEASE_LEASE)}
         WHERE schedule_id = ${scheduleId} AND ${raw(WAITING)}`,
  );
  return rowCount ?? 0;
}

/** Whether another occurrence of the schedule is running or waiting to retry (overlap: skip). */
export async function busyOccurrences(db: Queryable, jobIds: string[]): Promise<Set<string>> {
  if (jobIds.length === 0) return new Set();
  const { rows } = await db.query<{ id: string }>(
    sql`SELECT j.id FROM jobs j
         WHERE j.id = ANY(${jobIds}::uuid[])
           AND EXISTS (SELECT 1 FROM jobs o WHERE o.schedule_id = j.schedule_id AND o.id <> j.id
                         AND o.status IN ('running', 'retrying'))`,
  );
  return new Set(rows.map((r) => r.id));
}

/**
 * Each user's active jobs (waiting or running), counting at most `cap` per user (an index scan that
 * stops there: a user far past any limit costs no more than one at it).
 */
export async function countActiveJobs(
  db: Queryable,
  userIds: string[],
  cap: number,
): Promise<Map<string, number>> {
  const { rows } = await db.query<{ user_id: string; n: number }>(
    sql`SELECT u.user_id,
               ((SELECT count(*) FROM (SELECT 1 FROM jobs WHERE user_id = u.user_id AND ${raw(WAITING)} LIMIT ${cap}) w)
                + (SELECT count(*) FROM jobs WHERE user_id = u.user_id AND status = 'running'))::int AS n
          FROM unnest(${userIds}::uuid[]) AS u(user_id)`,
  );
  return new Map(rows.map((r) => [r.user_id, r.n]));
}

/**
 * Marks claimed occurrences as skipped instead of running them: cancelled, lease released, with a
 * `skipped` execution saying why. Fenced by lease token like every write about an attempt.
 */
export async function skipOccurrences(
  db: Queryable,
  skips: { id: string; leaseToken: string; attempt: number; reason: string }[],
): Promise<void> {
  if (skips.length === 0) return;
  await db.query(
    sql`WITH i AS (
          SELECT id, lease, attempt, reason
            FROM unnest(${skips.map((s) => s.id)}::uuid[], ${skips.map((s) => s.leaseToken)}::uuid[],
                        ${skips.map((s) => s.attempt)}::int[], ${skips.map((s) => s.reason)}::text[])
                   AS t(id, lease, attempt, reason)
        ), upd AS (
          UPDATE jobs j SET status = 'cancelled', completed_at = now(), updated_at = now(), ${raw(RELEASE_LEASE)}
            FROM i WHERE ${raw(holdsLease('j', 'i'))}
          RETURNING j.id, j.round
        )
        INSERT INTO job_executions (job_id, round, attempt, outcome, error, finished_at)
        SELECT i.id, upd.round, i.attempt, 'skipped', i.reason, now() FROM i JOIN upd ON upd.id = i.id`,
  );
}

/** Marks occurrences as catch-up runs (a claimed first firing that was missed and runs: planner.ts). */
export async function markCatchUp(db: Queryable, jobIds: string[]): Promise<void> {
  await db.query(sql`UPDATE jobs SET catch_up = true WHERE id = ANY(${jobIds}::uuid[])`);
}
