// user_queues.next_due (migration 0008) must never be later than a user's earliest waiting job: a
// late value hides due jobs from every claim. Every path that makes a job waiting lowers it (by
// trigger), and only settleDue raises it, under a lock protocol against writers in flight.
// These tests drive each path and the two interleavings that a naive raise gets wrong.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { createJob, createUser, forceJobState, succeededAttempt } from '../helpers/scheduler.ts';
import { insertJobs, redriveJob } from '../../src/sql/jobs.ts';
import { recordAttempts } from '../../src/sql/attempts.ts';
import { handBack, rescueExpired } from '../../src/sql/leases.ts';
import { claimDueJobs, nextDue, settleDue } from '../../src/sql/scheduler.ts';
import { waitFor } from '../helpers/http.ts';

let db: TestDb;
let userId: string;
const URL = 'http://127.0.0.1:9/hook';

beforeAll(async () => {
  db = await createTestDb();
});
afterAll(() => db.drop());
beforeEach(async () => {
  // Claims are global: earlier tests' jobs must not be claimed by later ones.
  // With no jobs left, infinity is every user's true value (earlier tests leave theirs early).
  await db.pool.query('DELETE FROM jobs');
  await db.pool.query(`UPDATE user_queues SET next_due = 'infinity'`);
  userId = (await createUser(db)).id;
});

/** The user's next_due and earliest waiting job (null when none waits). */
async function queueOf(id = userId): Promise<{ nextDue: Date; earliest: Date | null }> {
  const { rows } = await db.pool.query<{ next_due: Date; earliest: Date | null }>(
    `SELECT q.next_due,
            (SELECT min(next_attempt_at) FROM jobs WHERE user_id = q.user_id AND status IN ('scheduled', 'retrying')) AS earliest
       FROM user_queues q WHERE q.user_id = $1`,
    [id],
  );
  return { nextDue: rows[0]!.next_due, earliest: rows[0]!.earliest };
}

/** The invariant, for every user in the database. */
async function violations(): Promise<unknown[]> {
  const { rows } = await db.pool.query(
    `SELECT q.user_id, q.next_due, w.earliest FROM user_queues q
       JOIN LATERAL (SELECT min(next_attempt_at) AS earliest FROM jobs
                      WHERE user_id = q.user_id AND status IN ('scheduled', 'retrying')) w ON true
      WHERE w.earliest < q.next_due`,
  );
  return rows;
}

const claim = (q: pg.Pool | pg.PoolClient = db.pool, cap = 1000) =>
  claimDueJobs(q, { workerId: 'w1', batch: 100, perUserCap: cap, leaseMs: 30_000 });
/** A scheduler's look before sleeping (a read). */
const look = (cap = 1000) => nextDue(db.pool, cap);
/** Raises the next_due of users whose time has passed with nothing due. */
const settle = (q: pg.Pool | pg.PoolClient = db.pool) => settleDue(q, 1000);

describe('user_queues.next_due', () => {
  it('a new user has a row, at infinity', async () => {
    expect(await queueOf()).toEqual({ nextDue: Infinity, earliest: null });
  });

  it('single inserts and batches lower it to the earliest job; later jobs leave it', async () => {
    const later = await createJob(db, userId, { url: URL, delaySeconds: 3600 });
    expect((await queueOf()).nextDue).toEqual(later.next_attempt_at);
    const sooner = await createJob(db, userId, { url: URL, delaySeconds: 60 });
    expect((await queueOf()).nextDue).toEqual(sooner.next_attempt_at);
    await createJob(db, userId, { url: URL, delaySeconds: 120 });
    expect((await queueOf()).nextDue).toEqual(sooner.next_attempt_at);
    const batch = await insertJobs(
      db.pool,
      [30, 10, 20].map((s) => ({
        id: crypto.randomUUID(),
        userId,
        name: null,
        method: 'POST',
        url: URL,
        headers: {},
        body: null,
        fireAt: null,
        delaySeconds: s,
        timeoutMs: 1000,
        retry: { strategy: 'linear', max_attempts: 1, base_delay_ms: 0, max_delay_ms: 0 },
        idempotencyKey: null,
        requestHash: null,
        traceParent: null,
      })),
      0,
    );
    expect((await queueOf()).nextDue).toEqual(batch[1]!.next_attempt_at);
  });

  it('a look reads through early values; a settle raises them to the next waiting job, or infinity', async () => {
    const now = await createJob(db, userId, { url: URL });
    const next = await createJob(db, userId, { url: URL, delaySeconds: 3600 });
    expect(await claim()).toHaveLength(1);
    // The claim leaves it early (allowed)...
    expect((await queueOf()).nextDue).toEqual(now.next_attempt_at);
    // ...the look finds the real next job anyway, and reports the user as stale...
    const d = await look();
    expect(d.inMs).toBeGreaterThan(3_500_000);
    expect(d).toMatchObject({ cappedDue: false, stale: 1 });
    // ...which a settle fixes.
    expect(await settle()).toBe(1);
    expect(await queueOf()).toEqual({ nextDue: next.next_attempt_at, earliest: next.next_attempt_at });
    expect(await look()).toMatchObject({ stale: 0 });
    await forceJobState(db, next.id, 'cancelled');
    // A cancel leaves it early too; once that time passes, the look sees nothing and a settle tidies.
    expect((await queueOf()).nextDue).toEqual(next.next_attempt_at);
    await db.pool.query(`UPDATE user_queues SET next_due = now() - interval '1 s' WHERE user_id = $1`, [
      userId,
    ]);
    expect(await look()).toEqual({ inMs: null, atMs: null, cappedDue: false, stale: 1 });
    await settle();
    expect(await queueOf()).toEqual({ nextDue: Infinity, earliest: null });
  });

  it('a settle passes over users with due jobs, so they cannot keep it from stale users behind them', async () => {
    const busy = [userId, (await createUser(db)).id];
    for (const u of busy) {
      await createJob(db, u, { url: URL });
      await db.pool.query(`UPDATE user_queues SET next_due = now() - interval '1 hour' WHERE user_id = $1`, [
        u,
      ]);
    }
    const stale = (await createUser(db)).id;
    await db.pool.query(`UPDATE user_queues SET next_due = now() - interval '1 minute' WHERE user_id = $1`, [
      stale,
    ]);
    // A limit of 2: the two users with due jobs come first in next_due order.
    expect(await settleDue(db.pool, 2)).toBe(1);
    expect(await queueOf(stale)).toEqual({ nextDue: Infinity, earliest: null });
  });

  it('users at the cap: left out of the time while due (reported instead), counted while in the future', async () => {
    const held = await Promise.all([1, 2].map(() => createJob(db, userId, { url: URL })));
    for (const h of held) await forceJobState(db, h.id, 'running');
    const later = await createJob(db, userId, { url: URL, delaySeconds: 30 });
    // At its cap of 2, with a job due in 30 s: it may have a free slot by then, so that time counts.
    let d = await look(2);
    expect(Math.floor(d.atMs!)).toBe(later.next_attempt_at.getTime());
    expect(d.cappedDue).toBe(false);
    // Once due, only a freed slot makes it claimable: no time, cappedDue instead.
    await db.pool.query(`UPDATE jobs SET next_attempt_at = now() - interval '1 ms' WHERE id = $1`, [
      later.id,
    ]);
    d = await look(2);
    expect(d).toEqual({ inMs: null, atMs: null, cappedDue: true, stale: 0 });
    expect(await look(3)).toMatchObject({ cappedDue: false });
    expect((await look(3)).inMs).toBeLessThanOrEqual(0);
  });

  it('retry verdicts, rescues, hand-backs and re-drives lower it', async () => {
    const job = await createJob(db, userId, { url: URL });
    const [c] = await claim();
    await settle();
    expect((await queueOf()).nextDue).toBe(Infinity);
    // A retry verdict: due again in 5 s.
    await recordAttempts(db.pool, 'w1', [
      {
        ...succeededAttempt(job.id, c!.lease_token),
        newStatus: 'retrying',
        outcome: 'failed',
        retryDelayMs: 5000,
      },
    ]);
    let q = await queueOf();
    expect(q.nextDue).toEqual(q.earliest);
    expect(q.nextDue).not.toBe(Infinity);
    // A hand-back at shutdown: due now.
    await db.pool.query(`UPDATE user_queues SET next_due = 'infinity' WHERE user_id = $1`, [userId]);
    expect(await violations()).toHaveLength(1); // the check itself sees a bad row
    await db.pool.query(`UPDATE user_queues SET next_due = now() - interval '1 s' WHERE user_id = $1`, [
      userId,
    ]);
    await db.pool.query(`UPDATE jobs SET next_attempt_at = now() WHERE id = $1`, [job.id]);
    const [c2] = await claim();
    await settle();
    expect((await queueOf()).nextDue).toBe(Infinity);
    await handBack(db.pool, [{ id: job.id, leaseToken: c2!.lease_token }]);
    q = await queueOf();
    expect(q.nextDue).toEqual(q.earliest);
    // A rescue of an expired lease.
    const [c3] = await claim();
    expect(c3?.id).toBe(job.id);
    await settle();
    await db.pool.query(`UPDATE jobs SET lease_expires_at = now() - interval '1 s' WHERE id = $1`, [job.id]);
    await rescueExpired(db.pool, [{ id: job.id, attempt: 1, status: 'retrying', delayMs: 100, owner: 'w1' }]);
    q = await queueOf();
    expect(q.nextDue).toEqual(q.earliest);
    // A re-drive of a failed job.
    await forceJobState(db, job.id, 'failed');
    await db.pool.query(`UPDATE user_queues SET next_due = 'infinity' WHERE user_id = $1`, [userId]);
    expect(await redriveJob(db.pool, userId, job.id)).not.toBeNull();
    q = await queueOf();
    expect(q.nextDue).toEqual(q.earliest);
    expect(await violations()).toEqual([]);
  });

  it('a settle does not raise it past a job whose insert has not committed yet', async () => {
    // The user's only job is due now; another job, due in a minute, is being inserted (uncommitted).
    await createJob(db, userId, { url: URL });
    const writer = await db.pool.connect();
    try {
      await writer.query('BEGIN');
      const pending = await createJob({ ...db, pool: writer as unknown as pg.Pool }, userId, {
        url: URL,
        delaySeconds: 60,
      });
      // The claim takes the due job; the settle cannot see the pending one: "infinity" would hide it.
      expect(await claim()).toHaveLength(1);
      await settle();
      expect((await queueOf()).nextDue.getTime()).toBeLessThanOrEqual(pending.next_attempt_at.getTime());
      await writer.query('COMMIT');
      expect(await violations()).toEqual([]);
      await settle();
      expect((await queueOf()).nextDue).toEqual(pending.next_attempt_at);
    } finally {
      await writer.query('ROLLBACK'); // a no-op after COMMIT; ends the transaction if the test failed
      writer.release();
    }
  });

  it('an insert that starts while a settle holds the user waits for it, then lowers what it raised', async () => {
    await createJob(db, userId, { url: URL });
    const settler = await db.pool.connect();
    const writer = await db.pool.connect();
    try {
      expect(await claim()).toHaveLength(1);
      // A settle inside an open transaction: raised to infinity, not committed, lock held.
      await settler.query('BEGIN');
      await settle(settler);
      const { rows: pid } = await writer.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const insert = createJob({ ...db, pool: writer as unknown as pg.Pool }, userId, {
        url: URL,
        delaySeconds: 5,
      });
      // The insert's trigger waits on the settle's advisory lock...
      await waitFor(async () => {
        const { rows } = await db.pool.query(
          `SELECT 1 FROM pg_locks WHERE pid = $1 AND locktype = 'advisory' AND NOT granted`,
          [pid[0]!.pid],
        );
        return rows.length === 1;
      }, 'the insert to wait for the advisory lock');
      await settler.query('COMMIT');
      // ...and then sees the raised value, so it lowers it to its job.
      const job = await insert;
      expect((await queueOf()).nextDue).toEqual(job.next_attempt_at);
      expect(await violations()).toEqual([]);
    } finally {
      await settler.query('ROLLBACK');
      settler.release();
      writer.release();
    }
  });

  it('holds under concurrent inserts, claims and results of several users', async () => {
    const users = [userId, (await createUser(db)).id, (await createUser(db)).id];
    const stop = Date.now() + 1500;
    const writers = users.map(async (u, i) => {
      while (Date.now() < stop)
        await createJob(db, u, { url: URL, delaySeconds: ((i + 1) * Math.random()) / 10 });
    });
    const claimers = [0, 1].map(async () => {
      while (Date.now() < stop) {
        const got = await claim(db.pool, 5);
        if (!got.length) await settle();
        else
          await recordAttempts(
            db.pool,
            'w1',
            got.map((g, k) => ({
              ...succeededAttempt(g.id, g.lease_token),
              attempt: g.attempts,
              // Every other one fails and is retried in 50 ms, while its attempts last.
              ...(k % 2 && g.attempts < g.max_attempts
                ? { newStatus: 'retrying' as const, outcome: 'failed' as const, retryDelayMs: 50 }
                : {}),
            })),
          );
      }
    });
    await Promise.all([...writers, ...claimers]);
    expect(await violations()).toEqual([]);
    const { rows } = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM jobs WHERE status <> 'scheduled'`,
    );
    expect(rows[0]!.n).toBeGreaterThan(0);
  });
});
