// The schedules writes: create (idempotency, quota), patch, pause/resume and delete. Every change that
// affects what fires next replaces the pending occurrence in the same transaction. Cron searches (the
// first occurrence, the answer's fire times) run before the writing transaction, never under a lock.
import type pg from 'pg';
import { withTransaction, type Pool } from '../db/pool.ts';
import { fail, isUuid, notFound, parseOrThrow, validationFailed } from '../errors.ts';
import { requestHash } from '../jobs/schema.ts';
import * as sql from '../sql/schedules.ts';
import { cancelPendingOccurrences, renamePendingOccurrences } from '../sql/scheduleOccurrences.ts';
import { lockUserQuota } from '../sql/users.ts';
import { parseCronSchedule, type CronSchedule } from './cron.ts';
import { checkFields, createdFields, fieldsOf, patchedFields, sameOccurrences } from './fields.ts';
import { etagOf, ifMatchAllows } from './ifMatch.ts';
import { applyPlans } from './plans.ts';
import { planNext, type MisfirePolicy, type Plan } from './planner.ts';
import { nextRuns, scheduleJson, type NextRun, type ScheduleJson } from './representation.ts';
import type { createScheduleSchema, patchScheduleSchema } from './schema.ts';

export interface WriteDeps {
  pool: Pool;
  maxPerUser: number;
  minIntervalSeconds: number;
  /** The schedulers' poll interval: a first occurrence due sooner wakes them (NOTIFY). */
  notifyWithinMs: number;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
/** How many times an optimistic write reads again after a concurrent change before it gives up. */
const ATTEMPTS = 5;

const preconditionFailed = () =>
  fail('precondition_failed', 'the schedule changed since you read it (ETag mismatch)');

export async function createSchedule(
  deps: WriteDeps,
  schema: ReturnType<typeof createScheduleSchema>,
  userId: string,
  body: unknown,
  idempotencyKey: string | undefined,
): Promise<{ schedule: ScheduleJson; replayed: boolean }> {
  if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey))
    throw validationFailed([
      { path: 'Idempotency-Key', message: 'must be 1 to 255 visible ASCII characters' },
    ]);
  const fields = createdFields(parseOrThrow(schema, body));
  const hash = idempotencyKey ? requestHash(body) : null;
  if (idempotencyKey) {
    const existing = await sql.findSchedule(deps.pool, userId, { idempotencyKey });
    if (existing) return replay(existing, hash!);
  }
  const now = new Date();
  const schedule = checkFields(fields, now, {
    checkEndInFuture: true,
    minIntervalSeconds: deps.minIntervalSeconds,
  });
  // The first occurrence and the answer's fire times are computed before the transaction: no cron
  // search while it holds locks.
  const plan = fields.paused ? null : await planFromNow(deps.pool, fields, schedule);
  const runs = fields.paused ? [] : nextRuns(schedule, fields.startAt, fields.endAt);
  // The whole answer is made in the writing transaction: once it commits, nothing is left to fail
  // (a second connection, which a busy pool can refuse, would answer 503 for a saved schedule).
  return withTransaction(deps.pool, async (tx) => {
    // Creates of one user queue here, so a create with the same key that committed meanwhile is
    // seen below: it is replayed (a concurrent duplicate is never refused, nor created twice).
    await lockUserQuota(tx, userId, 'schedules');
    if (idempotencyKey) {
      const existing = await sql.findSchedule(tx, userId, { idempotencyKey });
      if (existing) return replay(existing, hash!);
    }
    if ((await sql.countSchedules(tx, userId)) >= deps.maxPerUser)
      throw fail('quota_exceeded', `at most ${deps.maxPerUser} schedules per user`);
    const idem = idempotencyKey ? { key: idempotencyKey, hash: hash! } : null;
    const s = await sql.insertSchedule(tx, userId, fields, idem);
    if (!s) throw new Error('schedule insert conflicted on a key no schedule holds'); // creates hold the lock above
    if (plan) await applyPlans(tx, [{ schedule: s, plan }], deps.notifyWithinMs);
    const row = await sql.findSchedule(tx, userId, { id: s.id });
    return { schedule: scheduleJson(row!, runs), replayed: false };
  });
}

function replay(existing: sql.ScheduleView, hash: Buffer) {
  if (!existing.request_hash?.equals(hash))
    throw fail('idempotency_key_reused', 'this Idempotency-Key was used with a different request body');
  return { schedule: scheduleJson(existing), replayed: true };
}

/**
 * The first occurrence from now (creation, resume, edit): nothing missed is backfilled. Computed
 * before the writing transaction, on the database's clock read just before (the scheduler's clock),
 * so no cron search runs while row locks are held.
 */
async function planFromNow(pool: Pool, f: sql.ScheduleFields, schedule: CronSchedule) {
  return planNext({
    schedule,
    startAt: f.startAt,
    endAt: f.endAt,
    misfire: f.misfire as MisfirePolicy,
    plannedUntil: null,
    now: await sql.databaseNow(pool),
  });
}

/**
 * Changes any fields; `ifMatch` (an ETag) makes it conditional. The pending occurrence is replaced.
 * Optimistic: the new fields are checked and the next occurrence computed from the version read
 * (CPU only, no lock held), then written only if that version is still current; a concurrent change
 * in between makes it start over (or, with If-Match, answer 412).
 */
export async function patchSchedule(
  deps: WriteDeps,
  schema: ReturnType<typeof patchScheduleSchema>,
  userId: string,
  id: string,
  body: unknown,
  ifMatch: string | undefined,
): Promise<ScheduleJson> {
  if (!isUuid(id)) throw notFound('schedule');
  const input = parseOrThrow(schema, body);
  for (let attempt = 1; ; attempt++) {
    const cur = await sql.findSchedule(deps.pool, userId, { id });
    if (!cur) throw notFound('schedule');
    if (ifMatch !== undefined && !ifMatchAllows(ifMatch, etagOf(cur.version))) throw preconditionFailed();
    const was = fieldsOf(cur);
    const f = patchedFields(was, input);
    const schedule = checkFields(f, new Date(), {
      checkEndInFuture: input.end_at !== undefined,
      minIntervalSeconds: deps.minIntervalSeconds,
    });
    // Same fire times, same request (`{}`, a name, overlap, misfire): the pending occurrence stays.
    const replace = !sameOccurrences(was, f);
    const plan = replace && !f.paused ? await planFromNow(deps.pool, f, schedule) : null;
    const runs = f.paused ? [] : nextRuns(schedule, f.startAt, f.endAt);
    const row = await replaceIfUnchanged(
      deps,
      userId,
      id,
      { version: cur.version, replace, plan, runs },
      async (tx) => {
        const written = (await sql.updateSchedule(tx, userId, id, cur.version, f, !replace))!;
        if (!replace && f.name !== was.name) await renamePendingOccurrences(tx, id, f.name);
        return written;
      },
    );
    if (row) return row;
    if (attempt >= ATTEMPTS)
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
async function replaceIfUnchanged(
  deps: WriteDeps,
  userId: string,
  id: string,
  w: { version: number; replace: boolean; plan: Plan | null; runs: NextRun[] },
  write: (tx: pg.PoolClient) => Promise<sql.ScheduleRow>,
): Promise<ScheduleJson | null> {
  return withTransaction(deps.pool, async (tx) => {
    // The schedule, then its pending occurrences: the lock order (CLAUDE.md). Waiting for an
    // occurrence a claim holds is safe: a claim never waits for a schedule.
    const locked = await sql.lockSchedule(tx, userId, id);
    if (!locked) throw notFound('schedule');
    if (locked.version !== w.version) return null; // changed since read: start over
    if (w.replace) await cancelPendingOccurrences(tx, id);
    const written = await write(tx);
    if (w.plan) await applyPlans(tx, [{ schedule: written, plan: w.plan }], deps.notifyWithinMs);
    return scheduleJson((await sql.findSchedule(tx, userId, { id }))!, w.runs);
  });
}

/** Pauses or resumes (from now: nothing missed is backfilled); the same optimistic write as patch. */
export async function setSchedulePaused(
  deps: WriteDeps,
  userId: string,
  id: string,
  paused: boolean,
): Promise<ScheduleJson> {
  if (!isUuid(id)) throw notFound('schedule');
  for (let attempt = 1; ; attempt++) {
    const cur = await sql.findSchedule(deps.pool, userId, { id });
    if (!cur) throw notFound('schedule');
    if (cur.paused === paused) return scheduleJson(cur); // already so: nothing to replace
    let plan: Plan | null = null;
    let runs: NextRun[] = [];
    const parsed = parseCronSchedule(cur.cron, cur.timezone);
    if (!paused && parsed.ok) {
      if (!cur.finished_at) plan = await planFromNow(deps.pool, fieldsOf(cur), parsed.schedule);
      runs = nextRuns(parsed.schedule, cur.start_at, cur.end_at);
    }
    const row = await replaceIfUnchanged(
      deps,
      userId,
      id,
      { version: cur.version, replace: true, plan, runs },
      (tx) => sql.setPaused(tx, id, paused),
    );
    if (row) return row;
    if (attempt >= ATTEMPTS)
      throw fail('concurrent_change', 'the schedule kept changing meanwhile; nothing was written, retry');
  }
}

/**
 * Deletes the schedule; its pending occurrence is cancelled, past ones keep their history.
 * `ifMatch` (an ETag) makes it conditional, checked under the row lock.
 */
export async function deleteSchedule(
  deps: WriteDeps,
  userId: string,
  id: string,
  ifMatch?: string,
): Promise<void> {
  if (!isUuid(id)) throw notFound('schedule');
  await withTransaction(deps.pool, async (tx) => {
    // The schedule, then its occurrences: the lock order (see replaceIfUnchanged).
    const locked = await sql.lockSchedule(tx, userId, id);
    if (!locked) throw notFound('schedule');
    if (ifMatch !== undefined && !ifMatchAllows(ifMatch, etagOf(locked.version))) throw preconditionFailed();
    await cancelPendingOccurrences(tx, id);
    await sql.deleteSchedule(tx, userId, id);
  });
}
