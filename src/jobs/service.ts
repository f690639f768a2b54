// Jobs use cases: validation, quotas, idempotency, and the owner-scoped reads and commands.
import crypto from 'node:crypto';
import { z } from 'zod';
import { withTransaction, type Pool } from '../db/pool.ts';
import {
  isDeterministicWriteError,
  fail,
  isUuid,
  notFound,
  parseOrThrow,
  rateLimited,
  serviceUnavailable,
  SQLSTATE,
  validationFailed,
  zodDetails,
  type ValidationDetail,
} from '../errors.ts';
import * as jobsSql from '../sql/jobs.ts';
import { createJobSchema, parseInstant, requestHash, type JobLimits } from './schema.ts';
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
import type { TargetPolicy } from './urlPolicy.ts';
import { SlidingWindowLimiter } from '../lib/rateLimit.ts';
import { Coalescer, CoalescerFull } from '../lib/coalescer.ts';
import { activeTraceparent, inSpan } from '../observability/tracing.ts';

// Concurrent single-create statements: requests arriving meanwhile wait and go together in the next.
const INSERT_FLUSHES_IN_FLIGHT = 2;
// How long a user's counted active jobs are trusted before counting again.
const QUOTA_CACHE_MS = 2000;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

export interface JobsServiceDeps {
  pool: Pool;
  limits: JobLimits;
  policy: TargetPolicy;
  maxActivePerUser: number;
  createRatePerMinute: number;
  /** Single creates waiting for their shared INSERT at most; more are answered 503 (default 10,000). */
  maxWaitingCreates?: number;
  /** The same for one user's; more of that user's are answered 429 (default 1,000). */
  maxWaitingCreatesPerUser?: number;
  /** The schedulers' poll interval: only jobs due sooner than this need to wake them. */
  notifyWithinMs: number;
  onCreated?: () => void;
}

/** The `limit` query parameter of a page: a decimal integer from 1 to 100, `fallback` when absent. */
const pageLimit = (fallback: number) =>
  z
    .string()
    .regex(/^\d{1,3}$/, 'must be an integer from 1 to 100')
    .transform(Number)
    .pipe(z.number().int().min(1).max(100))
    .default(fallback);

const listQuery = z.strictObject({
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
const countsQuery = listQuery.pick({ fire_at_from: true, fire_at_to: true, name: true });

const executionsQuery = z.strictObject({
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

/** Bytes, not UTF-16 units: a body of emoji is twice its length on the wire and in the statement. */
const headersSize = (h: Record<string, string>) => {
  let n = 0;
  for (const k in h) n += Buffer.byteLength(k) + Buffer.byteLength(h[k]!);
  return n;
};

/** What a create adds to its shared INSERT statement, in bytes (about: 256 for the fixed columns). */
export const createWeight = (j: Pick<jobsSql.NewBatchJob, 'url' | 'body' | 'headers'>) =>
  256 + Buffer.byteLength(j.url) + (j.body === null ? 0 : Buffer.byteLength(j.body)) + headersSize(j.headers);

/** A validated create request as the columns of a new job (one mapping for single and batch). */
function newJobFields(userId: string, d: z.output<ReturnType<typeof createJobSchema>>) {
  return {
    userId,
    name: d.name ?? null,
    method: d.request.method,
    url: d.request.url,
    headers: d.request.headers ?? {},
    body: d.request.body ?? null,
    fireAt: d.fire_at ? d.fire_at.toJSDate() : null,
    delaySeconds: d.delay_seconds ?? 0,
    timeoutMs: d.timeout_ms,
    retry: d.retry,
  };
}

export class JobsService {
  private readonly schema: ReturnType<typeof createJobSchema>;
  private readonly createLimiter: SlidingWindowLimiter;
  private readonly activeCounts = new Map<string, { n: number; at: number }>();
  /** Single creates of concurrent requests, inserted together (see insertCoalesced). */
  private readonly inserts: Coalescer<jobsSql.NewBatchJob, jobsSql.JobRow | null>;

  private readonly pool: Pool;
  private readonly maxActivePerUser: number;
  private readonly notifyWithinMs: number;
  private readonly onCreated: () => void;

  constructor(deps: JobsServiceDeps) {
    this.pool = deps.pool;
    this.maxActivePerUser = deps.maxActivePerUser;
    this.notifyWithinMs = deps.notifyWithinMs;
    this.onCreated = deps.onCreated ?? (() => {});
    this.schema = createJobSchema(deps.limits, deps.policy);
    this.createLimiter = new SlidingWindowLimiter(deps.createRatePerMinute, 60_000);
    this.inserts = new Coalescer((jobs) => this.insertCoalesced(jobs), {
      maxInFlight: INSERT_FLUSHES_IN_FLIGHT,
      maxBatch: 1000,
      // Big bodies make big statements: a flush carries about 4 MiB at most (one job always fits).
      weigh: (j) => createWeight(j),
      maxBatchWeight: 4 * 1024 * 1024,
      // Users take turns: one user's flood waits behind its own creates, not everyone's.
      keyOf: (j) => j.userId,
      // Past these, answer "busy" at once instead of queueing without bound (as a pool timeout did):
      // 429 to a user with too many of its own waiting, 503 when the server as a whole is full.
      maxWaiting: deps.maxWaitingCreates ?? 10_000,
      maxWaitingPerKey: deps.maxWaitingCreatesPerUser ?? 1_000,
    });
  }

  /**
   * Inserts the single creates of concurrent requests in one statement: under load, one statement,
   * one commit and at most one NOTIFY per flush instead of per job (the API's main cost was the
   * per-statement work of a one-row insert; README, Performance). A job whose idempotency key is
   * taken comes back null, as from a single insert.
   */
  private async insertCoalesced(
    jobs: jobsSql.NewBatchJob[],
  ): Promise<PromiseSettledResult<jobsSql.JobRow | null>[]> {
    const out = new Map<jobsSql.NewBatchJob, PromiseSettledResult<jobsSql.JobRow | null>>();
    await this.insertSplitting(jobs, out);
    return jobs.map((j) => out.get(j)!);
  }

  /**
   * One statement for `jobs`. If a row can be at fault (a data exception, a constraint violation, or
   * a deadlock or serialization failure), nothing was written: the halves are tried again, so only
   * the refused row fails, with the answer a single insert gives, after about 2·log2(n) statements,
   * one at a time. Anything else (the database unreachable) is every job's answer.
   */
  private async insertSplitting(
    jobs: jobsSql.NewBatchJob[],
    out: Map<jobsSql.NewBatchJob, PromiseSettledResult<jobsSql.JobRow | null>>,
  ): Promise<void> {
    try {
      const rows = await jobsSql.insertJobs(this.pool, jobs, this.notifyWithinMs);
      const byId = new Map(rows.map((r) => [r.id, r]));
      for (const j of jobs) out.set(j, { status: 'fulfilled', value: byId.get(j.id) ?? null });
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      const retryable =
        isDeterministicWriteError(err) ||
        code === SQLSTATE.DEADLOCK_DETECTED ||
        code === SQLSTATE.SERIALIZATION_FAILURE;
      if (jobs.length === 1 || !retryable) {
        for (const j of jobs) out.set(j, { status: 'rejected', reason: err });
        return;
      }
      const mid = jobs.length >> 1;
      await this.insertSplitting(jobs.slice(0, mid), out);
      await this.insertSplitting(jobs.slice(mid), out);
    }
  }

  private async submitInsert(job: jobsSql.NewBatchJob) {
    try {
      return await this.inserts.submit(job);
    } catch (err) {
      if (err instanceof CoalescerFull && err.perKey)
        throw rateLimited(
          1,
          'too many of your job creations are waiting; retry shortly, or send them as one batch',
        );
      if (err instanceof CoalescerFull)
        throw serviceUnavailable('too many job creations are waiting; retry shortly', 1);
      throw err;
    }
  }

  /** Single creates waiting for a flush of their insert (the djs_job_creates_waiting gauge, tests). */
  get waitingCreates(): number {
    return this.inserts.waiting;
  }

  /** The request schemas this service validates with: the OpenAPI document is generated from them. */
  get schemas() {
    return {
      create: this.schema,
      batch: this.batchSchema,
      list: listQuery,
      counts: countsQuery,
      executions: executionsQuery,
    };
  }

  /** A batch: up to 1,000 job objects, each validated by the create schema (plus idempotency_key). */
  private readonly batchSchema = z.strictObject({
    jobs: z.array(z.record(z.string(), z.unknown())).min(1).max(1000),
  });

  /** Creates a job; returns it and whether this was an idempotent replay. */
  async create(userId: string, body: unknown, idempotencyKey: string | undefined) {
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw validationFailed([
        { path: 'Idempotency-Key', message: 'must be 1 to 255 visible ASCII characters' },
      ]);
    }
    const input = parseOrThrow(this.schema, body);
    const hash = idempotencyKey ? requestHash(body) : null;

    if (idempotencyKey) {
      const existing = await jobsSql.findJob(this.pool, userId, { idempotencyKey });
      if (existing) return this.replay(existing, hash!);
    }
    await this.admitNewActiveJob(userId);
    let row: jobsSql.JobRow | null;
    try {
      // The insert's span context is stored with the job: each attempt's span links back to it.
      row = await inSpan('djs.job.insert', {}, async (setAttributes) => {
        const inserted = await this.submitInsert({
          ...newJobFields(userId, input),
          id: crypto.randomUUID(),
          idempotencyKey: idempotencyKey ?? null,
          requestHash: hash,
          traceParent: activeTraceparent(),
        });
        setAttributes(inserted ? { 'djs.job.id': inserted.id } : { 'djs.idempotent_replay': true });
        return inserted;
      });
    } catch (err) {
      if ((err as { code?: string }).code === SQLSTATE.CHECK_VIOLATION) {
        throw validationFailed([{ path: '(body)', message: 'the job violates a constraint' }]);
      }
      throw err;
    }
    if (!row) {
      // Lost a race with an identical key: the winner's row decides replay vs conflict.
      const existing = await jobsSql.findJob(this.pool, userId, { idempotencyKey: idempotencyKey! });
      if (!existing) throw fail('idempotency_key_reused', 'the idempotency key is in use; retry');
      return this.replay(existing, hash!);
    }
    const cached = this.activeCounts.get(userId);
    if (cached) cached.n++;
    this.onCreated();
    return { job: jobJson({ ...row, last_execution: null }), replayed: false };
  }

  /**
   * Anything that makes a job active again (create, re-drive) passes the same two gates: the creation
   * rate limit and the active-jobs quota.
   */
  private async admitNewActiveJob(userId: string): Promise<void> {
    const wait = this.createLimiter.take(userId);
    if (wait > 0) throw rateLimited(wait / 1000, 'job creation rate limit reached');
    if (!(await this.withinQuota(userId))) {
      throw fail('quota_exceeded', `at most ${this.maxActivePerUser} active jobs per user`);
    }
  }

  /** The same gates for `n` new jobs at once (a batch): all of them pass, or none is admitted. */
  private async admitNewActiveJobs(userId: string, n: number): Promise<void> {
    if (n === 0) return;
    const wait = this.createLimiter.take(userId, n);
    if (wait > 0) throw rateLimited(wait / 1000, 'job creation rate limit reached');
    const active = await jobsSql.countActive(this.pool, userId, this.maxActivePerUser);
    if (active + n > this.maxActivePerUser)
      throw fail(
        'quota_exceeded',
        `at most ${this.maxActivePerUser} active jobs per user (${active} active, ${n} in this batch)`,
      );
    const cached = this.activeCounts.get(userId);
    if (cached) cached.n = active + n;
  }

  /**
   * Creates up to 1,000 jobs in one statement. Every item is validated first; a 400 lists every
   * invalid item by index and nothing is written. Items may carry their own `idempotency_key`: an
   * item already created with the same key and body is answered with the existing job, another body
   * is a 409 for the whole batch. Quotas and the rate limit apply to the new jobs together.
   */
  async createBatch(userId: string, body: unknown) {
    const input = parseOrThrow(this.batchSchema, body);
    const details: ValidationDetail[] = [];
    const items = input.jobs.map((raw, i) => {
      const { idempotency_key: key, ...job } = raw as Record<string, unknown> & { idempotency_key?: unknown };
      const parsed = this.schema.safeParse(job);
      if (!parsed.success)
        details.push(
          ...zodDetails(parsed.error.issues).map((d) => ({
            ...d,
            path: d.path === '(body)' ? `jobs.${i}` : `jobs.${i}.${d.path}`,
          })),
        );
      if (key !== undefined && (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)))
        details.push({
          path: `jobs.${i}.idempotency_key`,
          message: 'must be 1 to 255 visible ASCII characters',
        });
      return { job, key: typeof key === 'string' ? key : null, parsed: parsed.success ? parsed.data : null };
    });
    const seen = new Map<string, number>();
    items.forEach((it, i) => {
      if (it.key === null) return;
      if (seen.has(it.key))
        details.push({
          path: `jobs.${i}.idempotency_key`,
          message: `repeats the key of jobs.${seen.get(it.key)}`,
        });
      seen.set(it.key, i);
    });
    if (details.length) throw validationFailed(details);
    const hashes = items.map((it) => (it.key ? requestHash(it.job) : null));
    const existing = new Map(
      (await jobsSql.findJobsByIdempotencyKeys(this.pool, userId, [...seen.keys()])).map((j) => [
        j.idempotency_key!,
        j,
      ]),
    );
    const conflicts = items.flatMap((it, i) => {
      const e = it.key ? existing.get(it.key) : undefined;
      return e && !e.request_hash?.equals(hashes[i]!) ? [`jobs.${i}`] : [];
    });
    if (conflicts.length)
      throw fail('idempotency_key_reused', 'an idempotency_key was used before with a different job', {
        details: { items: conflicts },
      });
    const fresh = items.flatMap((it, i) => (it.key && existing.has(it.key) ? [] : [i]));
    await this.admitNewActiveJobs(userId, fresh.length);
    const ids = items.map((it) => (it.key && existing.get(it.key)?.id) || crypto.randomUUID());
    const traceParent = activeTraceparent();
    // One transaction: an error answer must mean nothing of this request was written (a client told
    // to retry would otherwise fire the unkeyed jobs twice).
    const inserted = await withTransaction(this.pool, async (tx) => {
      const rows = await jobsSql.insertJobs(
        tx,
        fresh.map((i) => ({
          ...newJobFields(userId, items[i]!.parsed!),
          id: ids[i]!,
          idempotencyKey: items[i]!.key,
          requestHash: hashes[i] ?? null,
          traceParent,
        })),
        this.notifyWithinMs,
      );
      if (rows.length === fresh.length) return rows;
      // A concurrent request committed one of our keys between the check above and the insert (the
      // insert waited for it, then skipped the row). Settle it now, as if it had been there first: the
      // same job is a replay, another job is a conflict (and this transaction writes nothing).
      const written = new Set(rows.map((r) => r.id));
      const lateKeys = fresh.filter((i) => !written.has(ids[i]!)).map((i) => items[i]!.key!);
      const late = new Map(
        (await jobsSql.findJobsByIdempotencyKeys(tx, userId, lateKeys)).map((j) => [j.idempotency_key!, j]),
      );
      const lateConflicts: string[] = [];
      for (const i of fresh) {
        if (written.has(ids[i]!)) continue;
        const e = late.get(items[i]!.key!);
        if (!e || !e.request_hash?.equals(hashes[i]!)) lateConflicts.push(`jobs.${i}`);
        else {
          existing.set(e.idempotency_key!, e);
          ids[i] = e.id;
        }
      }
      if (lateConflicts.length)
        throw fail(
          'idempotency_key_reused',
          'an idempotency_key was used by a concurrent request with a different job; nothing was written',
          { details: { items: lateConflicts } },
        );
      return rows;
    });
    for (let n = 0; n < inserted.length; n++) this.onCreated();
    const byId = new Map<string, jobsSql.JobWithLast>([
      ...[...existing.values()].map((j) => [j.id, j] as const),
      ...inserted.map((j) => [j.id, { ...j, last_execution: null }] as const),
    ]);
    return { data: ids.map((id) => jobJson(byId.get(id)!)), replayed: inserted.length === 0 };
  }

  /**
   * Whether the user may have one more active job. Counting a big user's active jobs on every create
   * would cost O(jobs), so the count is cached for a moment and bumped locally; near the limit it is
   * recounted exactly before refusing. Between replicas the limit can overshoot by at most what the
   * others create within the cache age.
   */
  private async withinQuota(userId: string): Promise<boolean> {
    const max = this.maxActivePerUser;
    const now = performance.now();
    let c = this.activeCounts.get(userId);
    const fresh = c && now - c.at < QUOTA_CACHE_MS;
    if (!c || !fresh || c.n + 1 > max) {
      if (this.activeCounts.size > 100_000) this.activeCounts.clear();
      c = { n: await jobsSql.countActive(this.pool, userId, max), at: now };
      this.activeCounts.set(userId, c);
    }
    return c.n < max;
  }

  private replay(existing: jobsSql.JobWithLast, hash: Buffer) {
    if (!existing.request_hash || !existing.request_hash.equals(hash)) {
      throw fail('idempotency_key_reused', 'this Idempotency-Key was used with a different request body');
    }
    return { job: jobJson(existing), replayed: true };
  }

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

  /**
   * Cancels a live job. Whichever commits first wins: a result written before the cancel makes it a
   * 409 (`before` is read under the row lock, so it is the committed status); a cancel before the
   * result wins, and `attempt_in_flight` says an attempt was running then: its request may already
   * have reached the target (its execution is recorded as `cancelled`, whatever the target answered).
   */
  async cancel(userId: string, id: string) {
    if (!isUuid(id)) throw notFound('job');
    const r = await jobsSql.cancelJob(this.pool, userId, id);
    if (!r) throw notFound('job');
    if (r.before === 'succeeded' || r.before === 'failed') {
      throw fail(
        'job_finished',
        `the job already ${r.before === 'succeeded' ? 'succeeded' : 'failed'}; it cannot be cancelled`,
      );
    }
    return { ...jobJson(r.job), attempt_in_flight: r.before === 'running' };
  }

  /** Re-drives a failed job: it becomes active again, so it counts like a create (rate and quota). */
  async redrive(userId: string, id: string) {
    if (!isUuid(id)) throw notFound('job');
    const notFailed = (status: string) =>
      fail('job_not_failed', `only a failed job can be re-driven; this one is ${status}`);
    const before = await jobsSql.jobStatus(this.pool, userId, id);
    if (!before) throw notFound('job');
    if (before !== 'failed') throw notFailed(before);
    await this.admitNewActiveJob(userId);
    const row = await jobsSql.redriveJob(this.pool, userId, id);
    if (!row) {
      // Changed under us (re-driven by a concurrent request, or deleted by retention).
      const status = await jobsSql.jobStatus(this.pool, userId, id);
      if (!status) throw notFound('job');
      throw notFailed(status);
    }
    const cached = this.activeCounts.get(userId);
    if (cached) cached.n++;
    return jobJson(row);
  }
}
