// The create pipeline: one job (idempotent replay, its INSERT shared with concurrent creates) or a
// batch of up to 1,000 (one transaction, per-item idempotency keys).
import crypto from 'node:crypto';
import { withTransaction, type Pool } from '../db/pool.ts';
import {
  fail,
  isDeterministicWriteError,
  isTransactionConflict,
  parseOrThrow,
  rateLimited,
  serviceUnavailable,
  SQLSTATE,
  validationFailed,
} from '../errors.ts';
import { bisectOnDeterministicError } from '../lib/bisect.ts';
import { Coalescer, CoalescerFull } from '../lib/coalescer.ts';
import { activeTraceparent, inSpan } from '../observability/tracing.ts';
import * as jobsSql from '../sql/jobs.ts';
import type { Admission } from './admission.ts';
import {
  batchSchema,
  createWeight,
  IDEMPOTENCY_KEY,
  newJobFields,
  parseBatchItems,
  type CreateSchema,
} from './createInput.ts';
import { jobJson } from './representation.ts';
import { createJobSchema, requestHash, type JobLimits } from './schema.ts';
import type { TargetPolicy } from './urlPolicy.ts';

// Concurrent single-create statements: requests arriving meanwhile wait and go together in the next.
const INSERT_FLUSHES_IN_FLIGHT = 2;

export interface JobCreatesDeps {
  pool: Pool;
  limits: JobLimits;
  policy: TargetPolicy;
  /** Single creates waiting for their shared INSERT at most; more are answered 503 (default 10,000). */
  maxWaitingCreates?: number;
  /** The same for one user's; more of that user's are answered 429 (default 1,000). */
  maxWaitingCreatesPerUser?: number;
  /** The schedulers' poll interval: only jobs due sooner than this need to wake them. */
  notifyWithinMs: number;
  onCreated?: () => void;
}

export class JobCreates {
  readonly schema: CreateSchema;
  /** Single creates of concurrent requests, inserted together (see insertTogether). */
  private readonly inserts: Coalescer<jobsSql.NewBatchJob, jobsSql.JobRow | null>;
  private readonly pool: Pool;
  private readonly notifyWithinMs: number;
  private readonly onCreated: () => void;

  constructor(
    deps: JobCreatesDeps,
    private readonly admission: Admission,
  ) {
    this.pool = deps.pool;
    this.notifyWithinMs = deps.notifyWithinMs;
    this.onCreated = deps.onCreated ?? (() => {});
    this.schema = createJobSchema(deps.limits, deps.policy);
    this.inserts = new Coalescer((jobs) => this.insertTogether(jobs), {
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

  /** Single creates waiting for a flush of their insert (the djs_job_creates_waiting gauge, tests). */
  get waiting(): number {
    return this.inserts.waiting;
  }

  /**
   * Inserts the single creates of concurrent requests in one statement: under load, one statement,
   * one commit and at most one NOTIFY per flush instead of per job (the API's main cost was the
   * per-statement work of a one-row insert; README, Performance). A job whose idempotency key is
   * taken comes back null, as from a single insert. A row the database refuses (or a deadlock or
   * serialization failure, which one row may cause) fails alone, with the answer a single insert
   * gives; anything else (the database unreachable) is every job's answer.
   */
  private insertTogether(jobs: jobsSql.NewBatchJob[]) {
    return bisectOnDeterministicError(
      jobs,
      async (batch) => {
        const rows = await jobsSql.insertJobs(this.pool, batch, this.notifyWithinMs);
        const byId = new Map(rows.map((r) => [r.id, r]));
        return batch.map((j) => byId.get(j.id) ?? null);
      },
      { splitOn: (err) => isDeterministicWriteError(err) || isTransactionConflict(err) },
    );
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
      if (existing) return replay(existing, hash!);
    }
    await this.admission.admitOne(userId);
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
      return replay(existing, hash!);
    }
    this.admission.admitted(userId);
    this.onCreated();
    return { job: jobJson({ ...row, last_execution: null }), replayed: false };
  }

  /**
   * Creates up to 1,000 jobs in one statement. Every item is validated first; a 400 lists every
   * invalid item by index and nothing is written. Items may carry their own `idempotency_key`: an
   * item already created with the same key and body is answered with the existing job, another body
   * is a 409 for the whole batch. Quotas and the rate limit apply to the new jobs together.
   */
  async createBatch(userId: string, body: unknown) {
    const items = parseBatchItems(this.schema, parseOrThrow(batchSchema, body));
    const keys = items.flatMap((it) => (it.key === null ? [] : [it.key]));
    const existing = new Map(
      (await jobsSql.findJobsByIdempotencyKeys(this.pool, userId, keys)).map((j) => [j.idempotency_key!, j]),
    );
    const conflicts = items.flatMap((it, i) => {
      const e = it.key ? existing.get(it.key) : undefined;
      return e && !e.request_hash?.equals(it.hash!) ? [`jobs.${i}`] : [];
    });
    if (conflicts.length)
      throw fail('idempotency_key_reused', 'an idempotency_key was used before with a different job', {
        details: { items: conflicts },
      });
    const fresh = items.flatMap((it, i) => (it.key && existing.has(it.key) ? [] : [i]));
    await this.admission.admitMany(userId, fresh.length);
    const ids = items.map((it) => (it.key && existing.get(it.key)?.id) || crypto.randomUUID());
    const traceParent = activeTraceparent();
    // One transaction: an error answer must mean nothing of this request was written (a client told
    // to retry would otherwise fire the unkeyed jobs twice).
    const inserted = await withTransaction(this.pool, async (tx) => {
      const rows = await jobsSql.insertJobs(
        tx,
        fresh.map((i) => ({
          ...newJobFields(userId, items[i]!.fields),
          id: ids[i]!,
          idempotencyKey: items[i]!.key,
          requestHash: items[i]!.hash,
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
        if (!e || !e.request_hash?.equals(items[i]!.hash!)) lateConflicts.push(`jobs.${i}`);
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
}

/** The stored job answering a repeated Idempotency-Key: the same request body, or a conflict. */
function replay(existing: jobsSql.JobWithLast, hash: Buffer) {
  if (!existing.request_hash || !existing.request_hash.equals(hash)) {
    throw fail('idempotency_key_reused', 'this Idempotency-Key was used with a different request body');
  }
  return { job: jobJson(existing), replayed: true };
}
