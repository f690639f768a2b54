// SQL of the retention cleaner. Only finished rows are touched, oldest first through
// jobs_finished_idx, and locked with SKIP LOCKED: two cleaners never wait on each other, and the
// claim path (which only locks live rows) never waits on a cleaner.
import type { Queryable } from '../db/pool.ts';
import { sql } from './sql.ts';

export type FinishedStatus = 'succeeded' | 'failed' | 'cancelled';

/**
 * Deletes up to `limit` jobs in `status` that finished more than `olderThanDays` ago; their executions
 * go with them (ON DELETE CASCADE). Returns how many jobs were deleted.
 */
export async function deleteFinishedJobs(
  db: Queryable,
  status: FinishedStatus,
  olderThanDays: number,
  limit: number,
): Promise<number> {
  const { rowCount } = await db.query(
    sql`WITH doomed AS (
       SELECT id FROM jobs
        WHERE status = ${status} AND completed_at IS NOT NULL
          AND completed_at < now() - make_interval(secs => ${olderThanDays}::float8 * 86400)
        ORDER BY completed_at
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED
     )
     DELETE FROM jobs j USING doomed WHERE j.id = doomed.id`.named('djs_retention_delete'),
  );
  return rowCount ?? 0;
}
