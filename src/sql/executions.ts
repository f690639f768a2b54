// SQL for a job's executions (job_executions: one row per attempt and its result), as the API lists them.
import type { Queryable } from '../db/pool.ts';
import type { Outcome } from '../jobs/stateMachine.ts';
import { sql } from './sql.ts';

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

/**
 * A page of a job's executions after `after` in (round, attempt, id) order, the order they happened
 * in (a late superseded result sorts with its attempt); up to limit + 1 rows to detect more.
 */
export async function listExecutions(
  db: Queryable,
  jobId: string,
  p: { after: { round: number; attempt: number; id: number } | null; limit: number },
): Promise<ExecutionRow[]> {
  const after = p.after
    ? sql`AND (round, attempt, id) > (${p.after.round}::int, ${p.after.attempt}::int, ${p.after.id}::bigint)`
    : sql``;
  const { rows } = await db.query<ExecutionRow>(
    sql`SELECT id::float8 AS id, job_id, round, attempt, started_at, finished_at, duration_ms, outcome, status_code,
               error, response_body, response_body_encoding, response_truncated
          FROM job_executions
         WHERE job_id = ${jobId} ${after}
         ORDER BY round, attempt, id
         LIMIT ${p.limit + 1}`,
  );
  return rows;
}
