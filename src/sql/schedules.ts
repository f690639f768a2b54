// SQL for schedules. User-facing queries are scoped to the owner; the planning queries lock schedule
// rows (SKIP LOCKED where many schedulers compete) so a schedule is planned by one transaction at a
// time. Their occurrences (job rows) are written by scheduleOccurrences.ts.
import type { QueryResultRow } from 'pg';
import type { Queryable } from '../db/pool.ts';
import type { RequestColumns, RetryColumns } from './jobs.ts';
import { raw, sql, type Sql } from './sql.ts';

// The claim's occurrence queries, re-exported: the scheduler and plans.ts use one `sql` namespace for both.
export {
  busyOccurrences,
  countActiveJobs,
  insertOccurrences,
  markCatchUp,
  skipOccurrences,
  type NewOccurrence,
} from './scheduleOccurrences.ts';

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

/** Every column of ScheduleRow, named: a column a rolling migration adds changes no statement. */
const SCHEDULE_COLUMNS = raw(`id, seq, user_id, name, cron, timezone, method, url, headers, body, timeout_ms,
  retry_strategy, max_attempts, base_delay_ms, max_delay_ms, start_at, end_at, overlap, misfire, paused,
  planned_until, finished_at, missed_skipped, version, idempotency_key, request_hash, created_at, updated_at`);

// Occurrences recorded as skipped (overlap, misfire, quota) plus missed times that never became one
// (misfire: missed_skipped, migration 0009). For a row of schedules aliased `s`.
const SKIPPED_COUNT = raw(`least((SELECT count(*) FROM jobs o JOIN job_executions e ON e.job_id = o.id
   WHERE o.schedule_id = s.id AND e.outcome = 'skipped') + s.missed_skipped, 2147483647)::int AS skipped_count`);

/** The first row of a query, or null. */
async function one<T extends QueryResultRow>(db: Queryable, q: Sql): Promise<T | null> {
  const { rows } = await db.query<T>(q);
  return rows[0] ?? null;
}

/** Inserts a schedule; null when this user already used the idempotency key. */
export async function insertSchedule(
  db: Queryable,
  userId: string,
  f: ScheduleFields,
  idem: { key: string; hash: Buffer } | null,
): Promise<ScheduleRow | null> {
  return one<ScheduleRow>(
    db,
    sql`INSERT INTO schedules (name, cron, timezone, method, url, headers, body, timeout_ms, retry_strategy,
                               max_attempts, base_delay_ms, max_delay_ms, start_at, end_at, overlap, misfire,
                               paused, user_id, idempotency_key, request_hash)
        VALUES (${f.name}, ${f.cron}, ${f.timezone}, ${f.method}, ${f.url},
                ${JSON.stringify(f.headers)}::jsonb, ${f.body}, ${f.timeoutMs}, ${f.retry.strategy},
                ${f.retry.max_attempts}, ${f.retry.base_delay_ms}, ${f.retry.max_delay_ms},
                ${f.startAt}, ${f.endAt}, ${f.overlap}, ${f.misfire}, ${f.paused},
                ${userId}, ${idem?.key ?? null}, ${idem?.hash ?? null})
        ON CONFLICT (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
        RETURNING ${SCHEDULE_COLUMNS}`,
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
  return one<ScheduleRow>(
    db,
    sql`UPDATE schedules SET name = ${f.name}, cron = ${f.cron}, timezone = ${f.timezone},
               method = ${f.method}, url = ${f.url}, headers = ${JSON.stringify(f.headers)}::jsonb,
               body = ${f.body}, timeout_ms = ${f.timeoutMs},
               retry_strategy = ${f.retry.strategy}, max_attempts = ${f.retry.max_attempts},
               base_delay_ms = ${f.retry.base_delay_ms}, max_delay_ms = ${f.retry.max_delay_ms},
               start_at = ${f.startAt}, end_at = ${f.endAt}, overlap = ${f.overlap}, misfire = ${f.misfire},
               paused = ${f.paused},
               planned_until = CASE WHEN ${keepPlan}::boolean THEN planned_until END,
               finished_at = CASE WHEN ${keepPlan}::boolean THEN finished_at END,
               version = version + 1, updated_at = now()
         WHERE id = ${id} AND user_id = ${userId} AND version = ${version}
         RETURNING ${SCHEDULE_COLUMNS}`,
  );
}

/** The user's schedule, locked for the rest of the transaction (null: none of this user's). */
export async function lockSchedule(db: Queryable, userId: string, id: string): Promise<ScheduleRow | null> {
  return one<ScheduleRow>(
    db,
    sql`SELECT ${SCHEDULE_COLUMNS} FROM schedules WHERE id = ${id} AND user_id = ${userId} FOR UPDATE`,
  );
}

/** The user's schedule by id or by the idempotency key it was created with. */
export async function findSchedule(
  db: Queryable,
  userId: string,
  by: { id: string } | { idempotencyKey: string },
): Promise<ScheduleView | null> {
  const match = 'id' in by ? sql`s.id = ${by.id}` : sql`s.idempotency_key = ${by.idempotencyKey}`;
  return one<ScheduleView>(
    db,
    sql`SELECT ${SCHEDULE_COLUMNS}, ${SKIPPED_COUNT} FROM schedules s
         WHERE s.user_id = ${userId} AND ${match}`,
  );
}

/** A page of the user's schedules, newest first; up to limit + 1 rows to detect a next page. */
export async function listSchedules(
  db: Queryable,
  userId: string,
  p: { beforeSeq: number | null; limit: number },
): Promise<ScheduleView[]> {
  const { rows } = await db.query<ScheduleView>(
    sql`SELECT ${SCHEDULE_COLUMNS}, ${SKIPPED_COUNT} FROM schedules s
         WHERE s.user_id = ${userId} AND (${p.beforeSeq}::bigint IS NULL OR s.seq < ${p.beforeSeq})
         ORDER BY s.seq DESC LIMIT ${p.limit + 1}`,
  );
  return rows;
}

export async function countSchedules(db: Queryable, userId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    sql`SELECT count(*)::int AS n FROM schedules WHERE user_id = ${userId}`,
  );
  return rows[0]!.n;
}

export async function deleteSchedule(db: Queryable, userId: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query(sql`DELETE FROM schedules WHERE id = ${id} AND user_id = ${userId}`);
  return rowCount === 1;
}

/** Sets paused; bumps the version; a paused schedule forgets its plan (resume continues from now). */
export async function setPaused(db: Queryable, id: string, paused: boolean): Promise<ScheduleRow> {
  const { rows } = await db.query<ScheduleRow>(
    sql`UPDATE schedules SET paused = ${paused}, planned_until = NULL, version = version + 1, updated_at = now()
         WHERE id = ${id} RETURNING ${SCHEDULE_COLUMNS}`,
  );
  return rows[0]!;
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
  // A named (prepared) statement: its text must be the same on every call, whatever the arguments.
  const q = sql`UPDATE schedules s SET planned_until = coalesce(i.planned_until, s.planned_until),
                       finished_at = CASE WHEN i.finished THEN now() ELSE NULL END,
                       missed_skipped = s.missed_skipped + i.skipped, updated_at = now()
                  FROM unnest(${p.map((x) => x.id)}::uuid[], ${p.map((x) => x.plannedUntil)}::timestamptz[],
                              ${p.map((x) => x.finished)}::bool[], ${p.map((x) => x.skipped)}::int[])
                         AS i(id, planned_until, finished, skipped)
                 WHERE s.id = i.id`;
  await db.query({ name: 'djs_set_planned', text: q.text, values: q.values });
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
    sql`WITH mine AS (
          SELECT ${SCHEDULE_COLUMNS} FROM schedules
           WHERE id = ANY(${ids}::uuid[]) ORDER BY id FOR UPDATE SKIP LOCKED
        )
        SELECT ${SCHEDULE_COLUMNS}, true AS locked FROM mine
        UNION ALL
        SELECT ${SCHEDULE_COLUMNS}, false AS locked FROM schedules
         WHERE id = ANY(${ids}::uuid[]) AND id NOT IN (SELECT id FROM mine)`,
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
    sql`SELECT ${SCHEDULE_COLUMNS} FROM schedules s
         WHERE NOT s.paused AND s.finished_at IS NULL
           AND (s.planned_until IS NULL OR s.planned_until < now())
           AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.schedule_id = s.id AND j.scheduled_for = s.planned_until
                             AND j.status = 'scheduled')
         ORDER BY s.planned_until NULLS FIRST
         LIMIT ${limit}
         FOR UPDATE OF s SKIP LOCKED`,
  );
  return rows;
}

/** The database clock: schedules are planned against it, like every other due time. */
export async function databaseNow(db: Queryable): Promise<Date> {
  const { rows } = await db.query<{ now: Date }>(sql`SELECT now() AS now`);
  return rows[0]!.now;
}
