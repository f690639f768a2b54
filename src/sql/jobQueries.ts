// SQL that reads the jobs API's jobs. Every query is scoped to the calling user in SQL, so another
// user's job is indistinguishable from a missing one.
import type { Queryable } from '../db/pool.ts';
import type { JobStatus } from '../jobs/stateMachine.ts';
import { WAITING } from './fragments.ts';
import { JOB_COLUMNS, LAST_EXECUTION, type JobWithLast } from './jobRows.ts';
import { join, raw, sql, type Sql } from './sql.ts';

/** The user's job by id or by the idempotency key it was created with. */
export async function findJob(
  db: Queryable,
  userId: string,
  by: { id: string } | { idempotencyKey: string },
): Promise<JobWithLast | null> {
  const match = 'id' in by ? sql`j.id = ${by.id}` : sql`j.idempotency_key = ${by.idempotencyKey}`;
  const { rows } = await db.query<JobWithLast>(
    sql`SELECT ${JOB_COLUMNS}, ${LAST_EXECUTION} FROM jobs j WHERE j.user_id = ${userId} AND ${match}`,
  );
  return rows[0] ?? null;
}

/** The user's jobs created with any of these idempotency keys. */
export async function findJobsByIdempotencyKeys(
  db: Queryable,
  userId: string,
  keys: string[],
): Promise<JobWithLast[]> {
  if (keys.length === 0) return [];
  const { rows } = await db.query<JobWithLast>(
    sql`SELECT ${JOB_COLUMNS}, ${LAST_EXECUTION} FROM jobs j
         WHERE j.user_id = ${userId} AND j.idempotency_key = ANY(${keys}::text[])`,
  );
  return rows;
}

/** Live jobs of a user, counted up to `cap` (enough to enforce a quota without counting all). */
export async function countActive(db: Queryable, userId: string, cap: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    sql`SELECT (SELECT count(*) FROM (SELECT 1 FROM jobs WHERE user_id = ${userId} AND ${raw(WAITING)} LIMIT ${cap}) w)
             + (SELECT count(*) FROM jobs WHERE user_id = ${userId} AND status = 'running') AS n`,
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
const containsPattern = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** The conditions on `j` shared by the list and its counts: only the filters given. */
function listConditions(
  userId: string,
  f: Pick<ListFilter, 'fireAtFrom' | 'fireAtTo' | 'nameContains' | 'scheduleId'>,
): Sql[] {
  const where = [sql`j.user_id = ${userId}`];
  if (f.fireAtFrom != null) where.push(sql`j.fire_at >= ${f.fireAtFrom}::timestamptz`);
  if (f.fireAtTo != null) where.push(sql`j.fire_at < ${f.fireAtTo}::timestamptz`);
  if (f.nameContains) where.push(sql`j.name ILIKE ${containsPattern(f.nameContains)}`);
  if (f.scheduleId != null) where.push(sql`j.schedule_id = ${f.scheduleId}::uuid`);
  return where;
}

/** A page of the user's jobs, newest first (keyset on seq); returns up to limit + 1 rows to detect a next page. */
export async function listJobs(db: Queryable, userId: string, f: ListFilter): Promise<JobWithLast[]> {
  const where = listConditions(userId, f);
  // An empty list of statuses matches nothing, as it says.
  if (f.statuses !== null) where.push(sql`j.status = ANY(${f.statuses}::text[])`);
  if (f.beforeSeq !== null) where.push(sql`j.seq < ${f.beforeSeq}::bigint`);
  const { rows } = await db.query<JobWithLast>(
    sql`SELECT ${JOB_COLUMNS}, ${LAST_EXECUTION} FROM jobs j
         WHERE ${join(where, ' AND ')}
         ORDER BY j.seq DESC
         LIMIT ${f.limit + 1}`,
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
    sql`SELECT j.status, count(*)::int AS n FROM jobs j
         WHERE ${join(listConditions(userId, f), ' AND ')}
         GROUP BY j.status`,
  );
  return rows;
}

export async function jobStatus(db: Queryable, userId: string, id: string): Promise<JobStatus | null> {
  const { rows } = await db.query<{ status: JobStatus }>(
    sql`SELECT status FROM jobs WHERE id = ${id} AND user_id = ${userId}`,
  );
  return rows[0]?.status ?? null;
}
