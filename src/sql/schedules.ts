// SQL for schedules and their occurrences. User-facing queries are scoped to the owner; the
// planning queries lock schedule rows (SKIP LOCKED where many schedulers compete) so a schedule is
// planned by one transaction at a time, and the unique index on (schedule_id, scheduled_for) makes
// each occurrence exist once whatever races.
import { queryOne, type Queryable } from '../db/pool.ts';
import type { RequestColumns, RetryColumns } from './jobs.ts';
import { RELEASE_LEASE, WAITING, holdsLease, notifyDue } from './fragments.ts';

export interface ScheduleRow extends RetryColumns, RequestColumns {
  id: string;
  seq: number;
  user_id: string;
  name: string | null;
  cron: string;
  timezone: string;
  timeout_ms: number;
  start_at: Date | null;
  end_at: Date | null;
  overlap: 'allow' | 'skip';
  misfire: 'skip' | 'run_once' | 'run_all';
  paused: boolean;
  planned_until: Date | null;
  finished_at: Date | null;
  /** Missed fire times skipped without ever being an occurrence (misfire); a bigint, read as text. */
  missed_skipped: string;
  version: number;
  idempotency_key: string | null;
  request_hash: Buffer | null;
  created_at: Date;
  updated_at: Date;
}

/** A schedule with its skipped-occurrence count (for the API). */
export type ScheduleView = ScheduleRow & { skipped_count: number };

/** The writable fields of a schedule. */
export interface ScheduleFields extends RequestColumns {
  name: string | null;
  cron: string;
  timezone: string;
  timeoutMs: number;
  retry: { strategy: string; max_attempts: number; base_delay_ms: number; max_delay_ms: number };
  startAt: Date | null;
  endAt: Date | null;
  overlap: string;
  misfire: string;
  paused: boolean;
}

// Occurrences recorded as skipped (overlap, misfire, quota) plus missed times that never became one
// (misfire: missed_skipped, migration 0009).
const SKIPPED_COUNT = `least((SELECT count(*) FROM jobs o JOIN job_executions e ON e.job_id = o.id
   WHERE o.schedule_id = s.id AND e.outcome = 'skipped') + s.missed_skipped, 2147483647)::int AS skipped_count`;

const fieldValues = (f: ScheduleFields) => [
  f.name,
  f.cron,
  f.timezone,
  f.method,
  f.url,
  JSON.stringify(f.headers),
  f.body,
  f.timeoutMs,
  f.retry.strategy,
  f.retry.max_attempts,
  f.retry.base_delay_ms,
  f.retry.max_delay_ms,
  f.startAt,
  f.endAt,
  f.overlap,
  f.misfire,
  f.paused,
];

/** Inserts a schedule; null when this user already used the idempotency key. */
export async function insertSchedule(
  db: Queryable,
  userId: string,
  f: ScheduleFields,
  idem: { key: string; hash: Buffer } | null,
): Promise<ScheduleRow | null> {
  return queryOne<ScheduleRow>(
    db,
    `INSERT INTO schedules (name, cron, timezone, method, url, headers, body, timeout_ms, retry_strategy, max_attempts,
                            base_delay_ms, max_delay_ms, start_at, end_at, overlap, misfire, paused, user_id,
                            idempotency_key, request_hash)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
     ON CONFLICT (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
     RETURNING *`,
    [...fieldValues(f), userId, idem?.key ?? null, idem?.hash ?? null],
  );
}

/**
 * Replaces a schedule's fields if its version is still `version`; bumps the version. Forgets its plan
 * (the caller plans from now), unless `keepPlan`: the fire times and the occurrences' request did not
 * change, so the pending occurrence stays as it is.
 */
export async function updateSchedule(
  db: Queryable,
  userId: string,
  id: string,
  version: number,
  f: ScheduleFields,
  keepPlan = false,
): Promise<ScheduleRow | null> {
  return queryOne<ScheduleRow>(
    db,
    `UPDATE schedules SET name = $1, cron = $2, timezone = $3, method = $4, url = $5, headers = $6::jsonb, body = $7,
            timeout_ms = $8, retry_strategy = $9, max_attempts = $10, base_delay_ms = $11, max_delay_ms = $12,
            start_at = $13, end_at = $14, overlap = $15, misfire = $16, paused = $17,
            planned_until = CASE WHEN $21::boolean THEN planned_until END,
            finished_at = CASE WHEN $21::boolean THEN finished_at END,
            version = version + 1, updated_at = now()
      WHERE id = $18 AND user_id = $19 AND version = $20
      RETURNING *`,
    [...fieldValues(f), id, userId, version, keepPlan],
  );
}

/** Renames the schedule's pending occurrences (an edit of the name only keeps them). */
export async function renamePendingOccurrences(
  db: Queryable,
  scheduleId: string,
  name: string | null,
): Promise<void> {
  await db.query(
    `UPDATE jobs SET name = $2, updated_at = now()
      WHERE schedule_id = $1 AND status IN ('scheduled', 'retrying') AND name IS DISTINCT FROM $2`,
    [scheduleId, name],
  );
}

/** The user's schedule, locked for the rest of the transaction (null: none of this user's). */
export async function lockSchedule(db: Queryable, userId: string, id: string): Promise<ScheduleRow | null> {
  return queryOne<ScheduleRow>(db, `SELECT * FROM schedules WHERE id = $1 AND user_id = $2 FOR UPDATE`, [
    id,
    userId,
  ]);
}

/** The user's schedule by id or by the idempotency key it was created with. */
export async function findSchedule(
  db: Queryable,
  userId: string,
  by: { id: string } | { idempotencyKey: string },
): Promise<ScheduleView | null> {
  const [column, value] = 'id' in by ? ['id', by.id] : ['idempotency_key', by.idempotencyKey];
  return queryOne<ScheduleView>(
    db,
    `SELECT s.*, ${SKIPPED_COUNT} FROM schedules s WHERE s.user_id = $1 AND s.${column} = $2`,
    [userId, value],
  );
}

/** A page of the user's schedules, newest first; up to limit + 1 rows to detect a next page. */
export async function listSchedules(
  db: Queryable,
  userId: string,
  p: { beforeSeq: number | null; limit: number },
): Promise<ScheduleView[]> {
  const { rows } = await db.query<ScheduleView>(
    `SELECT s.*, ${SKIPPED_COUNT} FROM schedules s
      WHERE s.user_id = $1 AND ($2::bigint IS NULL OR s.seq < $2)
      ORDER BY s.seq DESC LIMIT $3`,
    [userId, p.beforeSeq, p.limit + 1],
  );
  return rows;
}

export async function countSchedules(db: Queryable, userId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM schedules WHERE user_id = $1`,
    [userId],
  );
  return rows[0]!.n;
}

export async function deleteSchedule(db: Queryable, userId: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query(`DELETE FROM schedules WHERE id = $1 AND user_id = $2`, [id, userId]);
  return rowCount === 1;
}

/** Sets paused; bumps the version; a paused schedule forgets its plan (resume continues from now). */
export async function setPaused(db: Queryable, id: string, paused: boolean): Promise<ScheduleRow> {
  const { rows } = await db.query<ScheduleRow>(
    `UPDATE schedules SET paused = $2, planned_until = NULL, version = version + 1, updated_at = now()
      WHERE id = $1 RETURNING *`,
    [id, paused],
  );
  return rows[0]!;
}

/**
 * Cancels the schedule's occurrences that have not started (a pause, edit or delete replaces them).
 * A running occurrence finishes; a retrying one is cancelled like a waiting one.
 */
export async function cancelPendingOccurrences(db: Queryable, scheduleId: string): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE jobs SET status = 'cancelled', completed_at = now(), updated_at = now(), ${RELEASE_LEASE}
      WHERE schedule_id = $1 AND status IN ('scheduled', 'retrying')`,
    [scheduleId],
  );
  return rowCount ?? 0;
}

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
  const { rows } = await db.query<{ n: number }>({
    name: 'djs_insert_occurrences',
    text: `WITH ins AS (
       INSERT INTO jobs (user_id, name, method, url, headers, body, fire_at, next_attempt_at, timeout_ms,
                         retry_strategy, max_attempts, base_delay_ms, max_delay_ms, schedule_id, scheduled_for, catch_up)
       SELECT s.user_id, s.name, s.method, s.url, s.headers, s.body, o.scheduled_for, greatest(o.due_at, now()),
              s.timeout_ms, s.retry_strategy, s.max_attempts, s.base_delay_ms, s.max_delay_ms, s.id, o.scheduled_for,
              o.catch_up
         FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[], $4::bool[])
                AS o(schedule_id, scheduled_for, due_at, catch_up)
         JOIN schedules s ON s.id = o.schedule_id
       ON CONFLICT (schedule_id, scheduled_for) WHERE schedule_id IS NOT NULL AND status <> 'cancelled' DO NOTHING
       RETURNING next_attempt_at
     )
     SELECT count(*)::int AS n,
            (SELECT ${notifyDue('min(next_attempt_at)')} FROM ins
              HAVING $5::float8 IS NOT NULL AND min(next_attempt_at) <= now() + make_interval(secs => $5::float8 / 1000)) AS notified
       FROM ins`,
    values: [
      occ.map((o) => o.scheduleId),
      occ.map((o) => o.scheduledFor),
      occ.map((o) => o.dueAt),
      occ.map((o) => o.catchUp),
      notifyWithinMs,
    ],
  });
  return rows[0]!.n;
}

/**
 * Records how far a schedule is planned, or that it is finished (no fire time left), and adds the
 * missed times its plan skipped without creating an occurrence for them (misfire).
 */
export async function setPlanned(
  db: Queryable,
  p: { id: string; plannedUntil: Date | null; finished: boolean; skipped: number }[],
): Promise<void> {
  if (p.length === 0) return;
  await db.query({
    name: 'djs_set_planned',
    text: `UPDATE schedules s SET planned_until = coalesce(i.planned_until, s.planned_until),
                  finished_at = CASE WHEN i.finished THEN now() ELSE NULL END,
                  missed_skipped = s.missed_skipped + i.skipped, updated_at = now()
             FROM unnest($1::uuid[], $2::timestamptz[], $3::bool[], $4::int[]) AS i(id, planned_until, finished, skipped)
            WHERE s.id = i.id`,
    values: [
      p.map((x) => x.id),
      p.map((x) => x.plannedUntil),
      p.map((x) => x.finished),
      p.map((x) => x.skipped),
    ],
  });
}

/**
 * The given schedules for a claim (inside its transaction): locked for planning (`locked`), or, when
 * another transaction holds one (an edit, pause or delete, another claim, the repair pass), read
 * without waiting as last committed. A claim holds its jobs' row locks, and an edit locks the
 * schedule and then its pending occurrences: waiting here could close a cycle (lock order, CLAUDE.md).
 */
export async function lockSchedulesForPlanning(
  db: Queryable,
  ids: string[],
): Promise<(ScheduleRow & { locked: boolean })[]> {
  const { rows } = await db.query<ScheduleRow & { locked: boolean }>(
    `WITH mine AS (SELECT * FROM schedules WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE SKIP LOCKED)
     SELECT mine.*, true AS locked FROM mine
     UNION ALL
     SELECT s.*, false AS locked FROM schedules s WHERE s.id = ANY($1::uuid[]) AND s.id NOT IN (SELECT id FROM mine)`,
    [ids],
  );
  return rows;
}

/**
 * Live schedules whose plan is broken: never planned, or planned up to a time that has passed while
 * the occurrence for it never ran (a user cancelled it). A healthy schedule always has its occurrence
 * at planned_until waiting, or planned_until in the future: the claim of that occurrence plans the
 * next one in the same transaction. Locked SKIP LOCKED, so schedulers repairing at once take
 * different rows.
 */
export async function lockSchedulesNeedingPlan(db: Queryable, limit: number): Promise<ScheduleRow[]> {
  const { rows } = await db.query<ScheduleRow>(
    `SELECT s.* FROM schedules s
      WHERE NOT s.paused AND s.finished_at IS NULL
        AND (s.planned_until IS NULL OR s.planned_until < now())
        AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.schedule_id = s.id AND j.scheduled_for = s.planned_until
                          AND j.status = 'scheduled')
      ORDER BY s.planned_until NULLS FIRST
      LIMIT $1
      FOR UPDATE OF s SKIP LOCKED`,
    [limit],
  );
  return rows;
}

/** Whether another occurrence of the schedule is running or waiting to retry (overlap: skip). */
export async function busyOccurrences(db: Queryable, jobIds: string[]): Promise<Set<string>> {
  if (jobIds.length === 0) return new Set();
  const { rows } = await db.query<{ id: string }>(
    `SELECT j.id FROM jobs j
      WHERE j.id = ANY($1::uuid[])
        AND EXISTS (SELECT 1 FROM jobs o WHERE o.schedule_id = j.schedule_id AND o.id <> j.id
                      AND o.status IN ('running', 'retrying'))`,
    [jobIds],
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
    `SELECT u.user_id,
            ((SELECT count(*) FROM (SELECT 1 FROM jobs WHERE user_id = u.user_id AND ${WAITING} LIMIT $2) w)
             + (SELECT count(*) FROM jobs WHERE user_id = u.user_id AND status = 'running'))::int AS n
       FROM unnest($1::uuid[]) AS u(user_id)`,
    [userIds, cap],
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
    `WITH i AS (
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[]) AS t(id, lease, attempt, reason)
     ), upd AS (
       UPDATE jobs j SET status = 'cancelled', completed_at = now(), updated_at = now(), ${RELEASE_LEASE}
         FROM i WHERE ${holdsLease('j', 'i')}
       RETURNING j.id, j.round
     )
     INSERT INTO job_executions (job_id, round, attempt, outcome, error, finished_at)
     SELECT i.id, upd.round, i.attempt, 'skipped', i.reason, now() FROM i JOIN upd ON upd.id = i.id`,
    [
      skips.map((s) => s.id),
      skips.map((s) => s.leaseToken),
      skips.map((s) => s.attempt),
      skips.map((s) => s.reason),
    ],
  );
}

/** Marks occurrences as catch-up runs (a claimed first firing that was missed and runs: planner.ts). */
export async function markCatchUp(db: Queryable, jobIds: string[]): Promise<void> {
  await db.query(`UPDATE jobs SET catch_up = true WHERE id = ANY($1::uuid[])`, [jobIds]);
}

/** The database clock: schedules are planned against it, like every other due time. */
export async function databaseNow(db: Queryable): Promise<Date> {
  const { rows } = await db.query<{ now: Date }>(`SELECT now() AS now`);
  return rows[0]!.now;
}
