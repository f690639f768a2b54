// The owner-scoped reads of jobs: one job, a page of jobs, counts by status, a job's executions.
import { z } from 'zod';
import type { Pool } from '../db/pool.ts';
import { isUuid, notFound, parseOrThrow, validationFailed, type ValidationDetail } from '../errors.ts';
import * as jobsSql from '../sql/jobs.ts';
import { parseInstant } from './schema.ts';
import { JOB_STATUSES, type JobStatus } from './stateMachine.ts';
import {
  decodeCursor,
  decodeExecutionCursor,
  encodeCursor,
  encodeExecutionCursor,
  executionJson,
  jobJson,
  type ExecutionCursor,
} from './representation.ts';

/** The `limit` query parameter of a page: a decimal integer from 1 to 100, `fallback` when absent. */
const pageLimit = (fallback: number) =>
  z
    .string()
    .regex(/^\d{1,3}$/, 'must be an integer from 1 to 100')
    .transform(Number)
    .pipe(z.number().int().min(1).max(100))
    .default(fallback);

export const listQuery = z.strictObject({
  status: z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()))
    .pipe(z.array(z.enum(JOB_STATUSES)).min(1))
    .optional(),
  fire_at_from: z.string().optional(),
  fire_at_to: z.string().optional(),
  // Text the name contains (case-insensitive; % and _ are literal).
  name: z
    .string()
    .min(1)
    .max(200)
    .refine((v) => !v.includes('\0'), 'must not contain NUL characters')
    .optional(),
  limit: pageLimit(50),
  cursor: z.string().optional(),
});

/** The list's filters other than status and paging: counts by status take the same ones. */
export const countsQuery = listQuery.pick({ fire_at_from: true, fire_at_to: true, name: true });

export const executionsQuery = z.strictObject({
  limit: pageLimit(100),
  cursor: z.string().optional(),
});

/** The fire-time range of a list query as instants; malformed bounds are added to `details`. */
function fireAtRange(
  q: { fire_at_from?: string | undefined; fire_at_to?: string | undefined },
  details: ValidationDetail[],
) {
  const instant = (name: string, v: string | undefined) => {
    if (v === undefined) return null;
    const dt = parseInstant(v);
    if (!dt) details.push({ path: name, message: 'must be an ISO-8601 date-time with an offset or Z' });
    return dt ? dt.toJSDate() : null;
  };
  return {
    fireAtFrom: instant('fire_at_from', q.fire_at_from),
    fireAtTo: instant('fire_at_to', q.fire_at_to),
  };
}

export class JobQueries {
  constructor(private readonly pool: Pool) {}

  async get(userId: string, id: string) {
    if (!isUuid(id)) throw notFound('job');
    const job = await jobsSql.findJob(this.pool, userId, { id });
    if (!job) throw notFound('job');
    return jobJson(job);
  }

  /** A page of the user's jobs (or of one schedule's occurrences), newest first. */
  async list(userId: string, query: unknown, scheduleId: string | null = null) {
    const q = parseOrThrow(listQuery, query);
    const details: ValidationDetail[] = [];
    const range = fireAtRange(q, details);
    let beforeSeq: number | null = null;
    if (q.cursor !== undefined) {
      beforeSeq = decodeCursor(q.cursor);
      if (beforeSeq === null) details.push({ path: 'cursor', message: 'is not a valid cursor' });
    }
    if (details.length) throw validationFailed(details);
    const rows = await jobsSql.listJobs(this.pool, userId, {
      scheduleId,
      statuses: q.status ?? null,
      ...range,
      nameContains: q.name ?? null,
      beforeSeq,
      limit: q.limit,
    });
    const page = rows.slice(0, q.limit);
    const more = rows.length > q.limit;
    return { data: page.map(jobJson), next_cursor: more ? encodeCursor(page.at(-1)!.seq) : null };
  }

  /** How many of the user's jobs are in each status (every status listed, zeros included), and in all. */
  async counts(userId: string, query: unknown) {
    const q = parseOrThrow(countsQuery, query);
    const details: ValidationDetail[] = [];
    const range = fireAtRange(q, details);
    if (details.length) throw validationFailed(details);
    const rows = await jobsSql.countJobsByStatus(this.pool, userId, {
      ...range,
      nameContains: q.name ?? null,
    });
    const counts = Object.fromEntries(JOB_STATUSES.map((st) => [st, 0])) as Record<JobStatus, number>;
    for (const r of rows) counts[r.status] = r.n;
    return { counts, total: rows.reduce((sum, r) => sum + r.n, 0) };
  }

  /** A job's attempts in the order they happened (round, attempt, then write order), a page at a time. */
  async executions(userId: string, id: string, query: unknown = {}) {
    if (!isUuid(id)) throw notFound('job');
    const q = parseOrThrow(executionsQuery, query);
    let after: ExecutionCursor | null = null;
    if (q.cursor !== undefined) {
      after = decodeExecutionCursor(q.cursor);
      if (!after) throw validationFailed([{ path: 'cursor', message: 'is not a valid cursor' }]);
    }
    if (!(await jobsSql.jobStatus(this.pool, userId, id))) throw notFound('job');
    const rows = await jobsSql.listExecutions(this.pool, id, { after, limit: q.limit });
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    return {
      data: page.map(executionJson),
      next_cursor: rows.length > q.limit && last ? encodeExecutionCursor(last) : null,
    };
  }
}
