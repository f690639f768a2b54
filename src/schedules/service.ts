// Schedules use cases: validation (cron, zone, minimum interval, the same request template as a job),
// idempotency, quotas, and the owner-scoped commands. Every change that affects what fires next
// (create, edit, pause, resume, delete) replaces the pending occurrence in the same transaction.
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import type pg from 'pg';
import { withTransaction, type Pool } from '../db/pool.ts';
import { fail, isUuid, notFound, parseOrThrow, validationFailed } from '../errors.ts';
import * as sql from '../sql/schedules.ts';
import { lockUserQuota } from '../sql/users.ts';
import { DEFAULT_RETRY, parseInstant, requestHash, requestTemplate, type JobLimits } from '../jobs/schema.ts';
import type { TargetPolicy } from '../jobs/urlPolicy.ts';
import { decodeCursor, encodeCursor } from '../jobs/representation.ts';
import type { JobsService } from '../jobs/service.ts';
import {
  describeLocal,
  LAST_INSTANT,
  MAX_GAP_YEARS,
  MAX_TAKE,
  parseCronSchedule,
  rarityProblem,
  type CronSchedule,
  type Occurrence,
} from './cron.ts';
import { CpuSlices } from '../lib/cpuSlices.ts';
import { applyPlans } from './plans.ts';
import { planNext, type MisfirePolicy, type Plan } from './planner.ts';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
/** Fire times shown with a schedule: at most this many, within NEXT_RUNS_YEARS. */
const NEXT_RUNS = 5;
const NEXT_RUNS_YEARS = MAX_GAP_YEARS;
/** A preview searches at most this far past `from`: a bound on the work of one request. */
export const PREVIEW_HORIZON_YEARS = 50;
const YEAR_MS = 365.2425 * 86_400_000;
const yearsAfter = (t: Date, years: number) => new Date(t.getTime() + years * YEAR_MS);

/** A fire time as answers show it. */
type NextRun = { at: string; local: string };

export interface SchedulesServiceDeps {
  pool: Pool;
  limits: JobLimits;
  policy: TargetPolicy;
  jobs: JobsService;
  maxPerUser: number;
  minIntervalSeconds: number;
  /** The schedulers' poll interval: a first occurrence due sooner wakes them (NOTIFY). */
  notifyWithinMs: number;
}

const instant = z.string().transform((s, ctx) => {
  const dt = parseInstant(s);
  if (!dt) {
    ctx.addIssue({ code: 'custom', message: 'must be an ISO-8601 date-time with an offset or Z' });
    return z.NEVER;
  }
  // Later instants are the year 10000 somewhere, which no answer could write back (cron.ts).
  if (dt.toMillis() > LAST_INSTANT.getTime()) {
    ctx.addIssue({
      code: 'custom',
      message: `must be at most ${LAST_INSTANT.toISOString().replace('.000', '')}`,
    });
    return z.NEVER;
  }
  return dt.toJSDate();
});

const pageQuery = z.strictObject({
  limit: z
    .string()
    .regex(/^\d{1,3}$/, 'must be an integer from 1 to 100')
    .transform(Number)
    .pipe(z.number().int().min(1).max(100))
    .default(50),
  cursor: z.string().optional(),
});

const previewQuery = z.strictObject({
  cron: z.string().max(200),
  timezone: z.string().max(64).default('UTC'),
  from: instant.optional(),
  count: z
    .string()
    .regex(/^\d{1,3}$/, `must be an integer from 1 to ${MAX_TAKE}`)
    .transform(Number)
    .pipe(z.number().int().min(1).max(MAX_TAKE))
    .default(NEXT_RUNS),
});

export class SchedulesService {
  private readonly create_: ReturnType<SchedulesService['buildSchema']>;
  private readonly patch_;

  constructor(private readonly deps: SchedulesServiceDeps) {
    this.create_ = this.buildSchema();
    const t = requestTemplate(deps.limits, deps.policy);
    this.patch_ = z.strictObject({
      name: t.name.nullable().optional(),
      cron: z.string().max(200).optional(),
      timezone: z.string().max(64).optional(),
      request: t.request.optional(),
      timeout_ms: t.timeout_ms.optional(),
      retry: t.retry.optional(),
      start_at: instant.nullable().optional(),
      end_at: instant.nullable().optional(),
      overlap: z.enum(['allow', 'skip']).optional(),
      misfire: z.enum(['skip', 'run_once', 'run_all']).optional(),
      paused: z.boolean().optional(),
    });
  }

  /** The request schemas this service validates with: the OpenAPI document is generated from them. */
  get schemas() {
    return { create: this.create_, patch: this.patch_, list: pageQuery, preview: previewQuery };
  }

  private buildSchema() {
    const t = requestTemplate(this.deps.limits, this.deps.policy);
    return z.strictObject({
      name: t.name.optional(),
      cron: z.string().max(200),
      timezone: z.string().max(64).default('UTC'),
      request: t.request,
      timeout_ms: t.timeout_ms.default(this.deps.limits.timeoutDefaultMs),
      retry: t.retry.default(DEFAULT_RETRY),
      start_at: instant.optional(),
      end_at: instant.optional(),
      overlap: z.enum(['allow', 'skip']).default('allow'),
      misfire: z.enum(['skip', 'run_once', 'run_all']).default('run_once'),
      paused: z.boolean().default(false),
    });
  }

  /**
   * Checks what zod cannot: the expression, the zone, how rare and how frequent it fires, the window.
   * Sets the zone's canonical spelling in `f` (what is stored). Pure CPU, bounded (the rarity cap):
   * never called while holding a row lock.
   */
  private checkFields(f: sql.ScheduleFields, now: Date, checkEndInFuture: boolean): CronSchedule {
    const parsed = parseCronSchedule(f.cron, f.timezone);
    if (!parsed.ok) throw validationFailed([{ path: parsed.field, message: parsed.message }]);
    f.timezone = parsed.schedule.timezone;
    const rare = rarityProblem(parsed.schedule);
    if (rare) throw validationFailed([{ path: 'cron', message: rare }]);
    const details: { path: string; message: string }[] = [];
    const min = this.deps.minIntervalSeconds;
    const interval = parsed.schedule.minIntervalSeconds(now);
    if (interval < min)
      details.push({
        path: 'cron',
        message: `fires as often as every ${interval} s; the minimum interval is ${min} s`,
      });
    if (f.startAt && f.endAt && f.endAt <= f.startAt)
      details.push({ path: 'end_at', message: 'must be after start_at' });
    if (checkEndInFuture && f.endAt && f.endAt <= now)
      details.push({ path: 'end_at', message: 'must be in the future' });
    if (details.length) throw validationFailed(details);
    return parsed.schedule;
  }

  async create(userId: string, body: unknown, idempotencyKey: string | undefined) {
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey))
      throw validationFailed([
        { path: 'Idempotency-Key', message: 'must be 1 to 255 visible ASCII characters' },
      ]);
    const input = parseOrThrow(this.create_, body);
    const fields: sql.ScheduleFields = {
      name: input.name ?? null,
      cron: input.cron.trim(),
      timezone: input.timezone,
      method: input.request.method,
      url: input.request.url,
      headers: input.request.headers ?? {},
      body: input.request.body ?? null,
      timeoutMs: input.timeout_ms,
      retry: input.retry,
      startAt: input.start_at ?? null,
      endAt: input.end_at ?? null,
      overlap: input.overlap,
      misfire: input.misfire,
      paused: input.paused,
    };
    const hash = idempotencyKey ? requestHash(body) : null;
    if (idempotencyKey) {
      const existing = await sql.findSchedule(this.deps.pool, userId, { idempotencyKey });
      if (existing) return this.replay(existing, hash!);
    }
    const now = new Date();
    const schedule = this.checkFields(fields, now, true);
    // The first occurrence and the answer's fire times are computed before the transaction: no cron
    // search while it holds locks.
    const plan = fields.paused ? null : await this.planFromNow(fields, schedule);
    const runs = fields.paused ? [] : this.nextRuns(schedule, fields.startAt, fields.endAt);
    // The whole answer is made in the writing transaction: once it commits, nothing is left to fail
    // (a second connection, which a busy pool can refuse, would answer 503 for a saved schedule).
    return withTransaction(this.deps.pool, async (tx) => {
      // Creates of one user queue here, so a create with the same key that committed meanwhile is
      // seen below: it is replayed (a concurrent duplicate is never refused, nor created twice).
      await lockUserQuota(tx, userId, 'schedules');
      if (idempotencyKey) {
        const existing = await sql.findSchedule(tx, userId, { idempotencyKey });
        if (existing) return this.replay(existing, hash!);
      }
      if ((await sql.countSchedules(tx, userId)) >= this.deps.maxPerUser)
        throw fail('quota_exceeded', `at most ${this.deps.maxPerUser} schedules per user`);
      const s = await sql.insertSchedule(
        tx,
        userId,
        fields,
        idempotencyKey ? { key: idempotencyKey, hash: hash! } : null,
      );
      if (!s) throw new Error('schedule insert conflicted on a key no schedule holds'); // creates hold the lock above
      if (plan) await applyPlans(tx, [{ schedule: s, plan }], this.deps.notifyWithinMs);
      const row = await sql.findSchedule(tx, userId, { id: s.id });
      return { schedule: this.json(row!, runs), replayed: false };
    });
  }

  private replay(existing: sql.ScheduleView, hash: Buffer) {
    if (!existing.request_hash?.equals(hash))
      throw fail('idempotency_key_reused', 'this Idempotency-Key was used with a different request body');
    return { schedule: this.json(existing), replayed: true };
  }

  /**
   * The first occurrence from now (creation, resume, edit): nothing missed is backfilled. Computed
   * before the writing transaction, on the database's clock read just before (the scheduler's clock),
   * so no cron search runs while row locks are held.
   */
  private async planFromNow(f: sql.ScheduleFields, schedule: CronSchedule) {
    return planNext({
      schedule,
      startAt: f.startAt,
      endAt: f.endAt,
      misfire: f.misfire as MisfirePolicy,
      plannedUntil: null,
      now: await sql.databaseNow(this.deps.pool),
    });
  }

  async get(userId: string, id: string) {
    return this.view(userId, id);
  }

  private async view(userId: string, id: string) {
    if (!isUuid(id)) throw notFound('schedule');
    const s = await sql.findSchedule(this.deps.pool, userId, { id });
    if (!s) throw notFound('schedule');
    return this.json(s);
  }

  async list(userId: string, query: unknown) {
    const q = parseOrThrow(pageQuery, query);
    let beforeSeq: number | null = null;
    if (q.cursor !== undefined) {
      beforeSeq = decodeCursor(q.cursor);
      if (beforeSeq === null) throw validationFailed([{ path: 'cursor', message: 'is not a valid cursor' }]);
    }
    const rows = await sql.listSchedules(this.deps.pool, userId, { beforeSeq, limit: q.limit });
    const page = rows.slice(0, q.limit);
    // Each schedule's next_runs is a cron search: a page of them yields between slices.
    const data = [];
    const slices = new CpuSlices();
    for (const s of page) {
      data.push(this.json(s));
      await slices.yieldIfDue();
    }
    return {
      data,
      next_cursor: rows.length > q.limit ? encodeCursor(page.at(-1)!.seq) : null,
    };
  }

  /**
   * Changes any fields; `ifMatch` (an ETag) makes it conditional. The pending occurrence is replaced.
   * Optimistic: the new fields are checked and the next occurrence computed from the version read
   * (CPU only, no lock held), then written only if that version is still current; a concurrent change
   * in between makes it start over (or, with If-Match, answer 412).
   */
  async patch(userId: string, id: string, body: unknown, ifMatch: string | undefined) {
    if (!isUuid(id)) throw notFound('schedule');
    const input = parseOrThrow(this.patch_, body);
    for (let attempt = 1; ; attempt++) {
      const cur = await sql.findSchedule(this.deps.pool, userId, { id });
      if (!cur) throw notFound('schedule');
      if (ifMatch !== undefined && !ifMatchAllows(ifMatch, etagOf(cur.version))) throw preconditionFailed();
      const was = fieldsOf(cur);
      const f: sql.ScheduleFields = {
        ...was,
        name: input.name === undefined ? was.name : input.name,
        cron: input.cron?.trim() ?? was.cron,
        timezone: input.timezone ?? was.timezone,
        ...(input.request && {
          method: input.request.method,
          url: input.request.url,
          headers: input.request.headers ?? {},
          body: input.request.body ?? null,
        }),
        timeoutMs: input.timeout_ms ?? was.timeoutMs,
        retry: input.retry ?? was.retry,
        startAt: input.start_at === undefined ? was.startAt : input.start_at,
        endAt: input.end_at === undefined ? was.endAt : input.end_at,
        overlap: input.overlap ?? was.overlap,
        misfire: input.misfire ?? was.misfire,
        paused: input.paused ?? was.paused,
      };
      const schedule = this.checkFields(f, new Date(), input.end_at !== undefined);
      // Same fire times, same request (`{}`, a name, overlap, misfire): the pending occurrence stays.
      const replace = !sameOccurrences(was, f);
      const plan = replace && !f.paused ? await this.planFromNow(f, schedule) : null;
      const runs = f.paused ? [] : this.nextRuns(schedule, f.startAt, f.endAt);
      const row = await this.replaceIfUnchanged(
        userId,
        id,
        { version: cur.version, replace, plan, runs },
        async (tx) => {
          const written = (await sql.updateSchedule(tx, userId, id, cur.version, f, !replace))!;
          if (!replace && f.name !== was.name) await sql.renamePendingOccurrences(tx, id, f.name);
          return written;
        },
      );
      if (row) return row;
      if (attempt >= 5)
        throw fail(
          'concurrent_change',
          'the schedule kept changing while this edit was applied; nothing was written, retry',
        );
    }
  }

  /**
   * The write of patch and setPaused: under the row lock, only if the schedule is still at `version`
   * (null otherwise: the caller starts over), the pending occurrence cancelled when `replace` and
   * `plan` (if any) planned. The answer is made in the same transaction, with the fire times `runs`
   * computed before it: once it commits, nothing is left to fail.
   */
  private async replaceIfUnchanged(
    userId: string,
    id: string,
    w: { version: number; replace: boolean; plan: Plan | null; runs: NextRun[] },
    write: (tx: pg.PoolClient) => Promise<sql.ScheduleRow>,
  ): Promise<ReturnType<SchedulesService['json']> | null> {
    return withTransaction(this.deps.pool, async (tx) => {
      // The schedule, then its pending occurrences: the lock order (CLAUDE.md). Waiting for an
      // occurrence a claim holds is safe: a claim never waits for a schedule.
      const locked = await sql.lockSchedule(tx, userId, id);
      if (!locked) throw notFound('schedule');
      if (locked.version !== w.version) return null; // changed since read: start over
      if (w.replace) await sql.cancelPendingOccurrences(tx, id);
      const written = await write(tx);
      if (w.plan) await applyPlans(tx, [{ schedule: written, plan: w.plan }], this.deps.notifyWithinMs);
      return this.json((await sql.findSchedule(tx, userId, { id }))!, w.runs);
    });
  }

  /** Pauses or resumes (from now: nothing missed is backfilled); the same optimistic write as patch. */
  async setPaused(userId: string, id: string, paused: boolean) {
    if (!isUuid(id)) throw notFound('schedule');
    for (let attempt = 1; ; attempt++) {
      const cur = await sql.findSchedule(this.deps.pool, userId, { id });
      if (!cur) throw notFound('schedule');
      if (cur.paused === paused) return this.json(cur); // already so: nothing to replace
      let plan: Plan | null = null;
      let runs: NextRun[] = [];
      const parsed = parseCronSchedule(cur.cron, cur.timezone);
      if (!paused && parsed.ok) {
        if (!cur.finished_at) plan = await this.planFromNow(fieldsOf(cur), parsed.schedule);
        runs = this.nextRuns(parsed.schedule, cur.start_at, cur.end_at);
      }
      const row = await this.replaceIfUnchanged(
        userId,
        id,
        { version: cur.version, replace: true, plan, runs },
        (tx) => sql.setPaused(tx, id, paused),
      );
      if (row) return row;
      if (attempt >= 5)
        throw fail('concurrent_change', 'the schedule kept changing meanwhile; nothing was written, retry');
    }
  }

  /**
   * Deletes the schedule; its pending occurrence is cancelled, past ones keep their history.
   * `ifMatch` (an ETag) makes it conditional, checked under the row lock.
   */
  async delete(userId: string, id: string, ifMatch?: string): Promise<void> {
    if (!isUuid(id)) throw notFound('schedule');
    await withTransaction(this.deps.pool, async (tx) => {
      // The schedule, then its occurrences: the lock order (see replaceIfUnchanged).
      const locked = await sql.lockSchedule(tx, userId, id);
      if (!locked) throw notFound('schedule');
      if (ifMatch !== undefined && !ifMatchAllows(ifMatch, etagOf(locked.version)))
        throw preconditionFailed();
      await sql.cancelPendingOccurrences(tx, id);
      await sql.deleteSchedule(tx, userId, id);
    });
  }

  /** The schedule's occurrences, paginated and filtered like the job list. */
  async occurrences(userId: string, id: string, query: unknown) {
    if (!isUuid(id) || !(await sql.findSchedule(this.deps.pool, userId, { id }))) throw notFound('schedule');
    return this.deps.jobs.list(userId, query, id);
  }

  /**
   * The next fire times of an expression, with no side effect: the same code plans real occurrences.
   * Its work is bounded: the expression must fire at least once in MAX_GAP_YEARS, and the `count`
   * times must fall within PREVIEW_HORIZON_YEARS of `from`.
   */
  async preview(query: unknown) {
    const q = parseOrThrow(previewQuery, query);
    const parsed = parseCronSchedule(q.cron.trim(), q.timezone);
    if (!parsed.ok) throw validationFailed([{ path: parsed.field, message: parsed.message }]);
    const rare = rarityProblem(parsed.schedule);
    if (rare) throw validationFailed([{ path: 'cron', message: rare }]);
    const from = q.from ?? new Date();
    const horizon = yearsAfter(from, PREVIEW_HORIZON_YEARS);
    const until = horizon < LAST_INSTANT ? horizon : LAST_INSTANT;
    // One fire time at a time, yielding between slices (see CpuSlices).
    const times: Occurrence[] = [];
    const slices = new CpuSlices();
    for (let after = from; times.length < q.count;) {
      const [next] = parsed.schedule.take(after, 1, until);
      if (!next) break;
      times.push(next);
      after = next.at;
      await slices.yieldIfDue();
    }
    // A cron expression repeats forever: fewer times than asked means the horizon cut the search.
    if (times.length < q.count)
      throw validationFailed([
        {
          path: 'count',
          message:
            until === LAST_INSTANT
              ? `the next ${q.count} fire times reach past the year 9999 (the last a date-time can be written in); ${times.length} fall before it, ask for at most that many`
              : `the next ${q.count} fire times reach past ${PREVIEW_HORIZON_YEARS} years after from (the most one preview searches); ${times.length} fall within it, ask for at most that many`,
        },
      ]);
    return { data: times.map((o) => ({ at: o.at.toISOString(), local: o.local })) };
  }

  /** The next fire times an answer shows: a cron search (CPU), which writes run before taking locks. */
  private nextRuns(schedule: CronSchedule, startAt: Date | null, endAt: Date | null): NextRun[] {
    const from = Math.max(Date.now(), startAt ? startAt.getTime() - 1 : 0);
    return schedule
      .take(new Date(from), NEXT_RUNS, yearsAfter(new Date(from), NEXT_RUNS_YEARS))
      .filter((o) => !endAt || o.at < endAt)
      .map((o) => ({ at: o.at.toISOString(), local: describeLocal(o.at, schedule.timezone) }));
  }

  /** A schedule as answers show it; `runs`: its next fire times computed already (by a write). */
  json(s: sql.ScheduleView, runs?: NextRun[]) {
    const status = s.paused ? 'paused' : s.finished_at ? 'finished' : 'active';
    let nextRuns: NextRun[] = [];
    if (status === 'active' && runs) nextRuns = runs;
    else if (status === 'active') {
      const parsed = parseCronSchedule(s.cron, s.timezone);
      if (parsed.ok) nextRuns = this.nextRuns(parsed.schedule, s.start_at, s.end_at);
    }
    return {
      id: s.id,
      name: s.name,
      cron: s.cron,
      timezone: s.timezone,
      request: { method: s.method, url: s.url, headers: s.headers, body: s.body },
      timeout_ms: s.timeout_ms,
      retry: {
        strategy: s.retry_strategy,
        max_attempts: s.max_attempts,
        base_delay_ms: s.base_delay_ms,
        max_delay_ms: s.max_delay_ms,
      },
      start_at: s.start_at?.toISOString() ?? null,
      end_at: s.end_at?.toISOString() ?? null,
      overlap: s.overlap,
      misfire: s.misfire,
      paused: s.paused,
      status,
      next_runs: nextRuns,
      skipped_count: s.skipped_count,
      etag: etagOf(s.version),
      created_at: s.created_at.toISOString(),
      updated_at: s.updated_at.toISOString(),
    };
  }
}

/** A stored schedule's fields, as a write would give them. */
function fieldsOf(cur: sql.ScheduleRow): sql.ScheduleFields {
  return {
    name: cur.name,
    cron: cur.cron,
    timezone: cur.timezone,
    method: cur.method,
    url: cur.url,
    headers: cur.headers,
    body: cur.body,
    timeoutMs: cur.timeout_ms,
    retry: {
      strategy: cur.retry_strategy,
      max_attempts: cur.max_attempts,
      base_delay_ms: cur.base_delay_ms,
      max_delay_ms: cur.max_delay_ms,
    },
    startAt: cur.start_at,
    endAt: cur.end_at,
    overlap: cur.overlap,
    misfire: cur.misfire,
    paused: cur.paused,
  };
}

/**
 * Whether an edit fires at the same times with the same request as before: then it keeps the pending
 * occurrence (its name is updated in place) instead of cancelling it and planning a new one.
 */
function sameOccurrences(a: sql.ScheduleFields, b: sql.ScheduleFields): boolean {
  const sameTime = (x: Date | null, y: Date | null) => (x?.getTime() ?? null) === (y?.getTime() ?? null);
  return (
    a.cron === b.cron &&
    a.timezone === b.timezone &&
    sameTime(a.startAt, b.startAt) &&
    sameTime(a.endAt, b.endAt) &&
    a.paused === b.paused &&
    a.method === b.method &&
    a.url === b.url &&
    isDeepStrictEqual(a.headers, b.headers) &&
    a.body === b.body &&
    a.timeoutMs === b.timeoutMs &&
    isDeepStrictEqual({ ...a.retry }, { ...b.retry })
  );
}

/** A schedule's ETag: its version, which every change bumps. */
export const etagOf = (version: number) => `"v${version}"`;

const preconditionFailed = () =>
  fail('precondition_failed', 'the schedule changed since you read it (ETag mismatch)');

/** One element of an If-Match list: optional whitespace, an entity-tag or nothing, then a comma or the end. */
const IF_MATCH_ELEMENT = /^[ \t]*(?:((?:W\/)?"[\x21\x23-\x7e\x80-\xff]*")[ \t]*)?(?:,|$)/;

/**
 * Whether an If-Match value lets a write go ahead on a resource with this (strong) ETag, as RFC 9110
 * §13.1.1 says: `*`, or a list of entity-tags with one equal to it by strong comparison (a weak tag
 * never matches). A value that is not such a list matches nothing.
 */
export function ifMatchAllows(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  const tags: string[] = [];
  for (let rest = header; rest.length > 0;) {
    const m = IF_MATCH_ELEMENT.exec(rest);
    if (!m) return false;
    if (m[1]) tags.push(m[1]);
    rest = rest.slice(m[0].length);
  }
  return tags.includes(etag);
}
