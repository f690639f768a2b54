// A cancel racing an attempt's result (#29.5): whichever commits first wins, and the loser is told
// the truth. Both orders are driven with a transaction holding the job's row lock while the other
// side waits on it (seen in pg_stat_activity), never by timing.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import request from 'supertest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { createTestApp, sessionFor, type TestApp } from '../helpers/app.ts';
import { waitFor } from '../helpers/http.ts';
import { createJob, executionsOf, jobState, succeededAttempt } from '../helpers/scheduler.ts';
import { cancelJob } from '../../src/sql/jobs.ts';
import { recordAttempts } from '../../src/sql/attempts.ts';
import { rescueExpired } from '../../src/sql/leases.ts';
import { claimDueJobs, type ClaimedJob } from '../../src/sql/scheduler.ts';

let db: TestDb;
let t: TestApp;
let alice: Awaited<ReturnType<typeof sessionFor>>;

beforeAll(async () => {
  db = await createTestDb();
  t = await createTestApp(db);
  alice = await sessionFor(db, t.config, 'alice@example.com');
});
beforeEach(async () => {
  await db.pool.query('DELETE FROM jobs');
});
afterAll(async () => {
  await t.close();
  await db.drop();
});

/** A job of alice's, claimed as a scheduler claims it: running, with a lease, attempt 1 of round 1. */
async function runningJob(): Promise<ClaimedJob> {
  await createJob(db, alice.user.id, { url: 'http://127.0.0.1:9/hook' });
  const [claimed] = await claimDueJobs(db.pool, {
    workerId: 'w1',
    batch: 10,
    perUserCap: 10,
    leaseMs: 60_000,
  });
  return claimed!;
}

/** The target answered 200 to this claim's attempt. */
const answered200 = (j: ClaimedJob) => ({
  ...succeededAttempt(j.id, j.lease_token),
  round: j.round,
  attempt: j.attempts,
});

const cancelViaApi = (id: string) =>
  request(t.app)
    .post(`/v1/jobs/${id}/cancel`)
    .set('Authorization', alice.auth)
    .then((r) => r);

/** Resolves once some statement of this database waits for a row lock. */
const someoneWaitsForALock = () =>
  waitFor(async () => {
    const { rows } = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    return rows[0]!.n > 0;
  }, 'a statement to wait for the row lock');

/** Runs `fn` in a transaction that stays open (holding its row locks) until `commit()`. */
async function openTransaction<T>(fn: (c: import('pg').PoolClient) => Promise<T>) {
  const c = await db.pool.connect();
  await c.query('BEGIN');
  const value = await fn(c);
  return {
    value,
    commit: async () => {
      try {
        await c.query('COMMIT');
      } finally {
        c.release();
      }
    },
  };
}

describe('the result commits first', () => {
  it('a cancel waiting for it answers 409 job_finished; the attempt stays succeeded', async () => {
    const job = await runningJob();
    const result = await openTransaction((c) => recordAttempts(c, 'w1', [answered200(job)]));
    expect(result.value.get(job.id)).toBe('succeeded');
    const cancel = cancelViaApi(job.id);
    await someoneWaitsForALock();
    await result.commit();
    const res = await cancel;
    expect([res.status, res.body.error?.code]).toEqual([409, 'job_finished']);
    expect(await jobState(db, job.id)).toMatchObject({ status: 'succeeded' });
    expect((await executionsOf(db, job.id)).map((e) => [e.outcome, e.status_code])).toEqual([
      ['succeeded', 200],
    ]);
  });
});

describe('the cancel commits first', () => {
  it('a result write waiting for it records the attempt as cancelled, never superseded', async () => {
    const job = await runningJob();
    const cancel = await openTransaction((c) => cancelJob(c, alice.user.id, job.id));
    expect(cancel.value?.before).toBe('running');
    // The result's statement starts (and takes its snapshot) while the cancel is uncommitted.
    const recorded = recordAttempts(db.pool, 'w1', [answered200(job)]);
    await someoneWaitsForALock();
    await cancel.commit();
    expect((await recorded).get(job.id)).toBe('cancelled');
    expect(await jobState(db, job.id)).toMatchObject({ status: 'cancelled', lease_token: null });
    const [ex] = await executionsOf(db, job.id);
    expect(ex).toMatchObject({ round: 1, attempt: 1, outcome: 'cancelled', status_code: 200 });
  });

  it('the cancel answers 200 with attempt_in_flight: true; the late 2xx is recorded as cancelled', async () => {
    const job = await runningJob();
    const res = await cancelViaApi(job.id);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: job.id, status: 'cancelled', attempt_in_flight: true });
    expect((await recordAttempts(db.pool, 'w1', [answered200(job)])).get(job.id)).toBe('cancelled');
    const ex = await request(t.app).get(`/v1/jobs/${job.id}/executions`).set('Authorization', alice.auth);
    expect(ex.body.data).toEqual([
      expect.objectContaining({ round: 1, attempt: 1, outcome: 'cancelled', status_code: 200 }),
    ]);
    const got = await request(t.app).get(`/v1/jobs/${job.id}`).set('Authorization', alice.auth);
    expect(got.body).toMatchObject({ status: 'cancelled', last_execution: { outcome: 'cancelled' } });
    expect(got.body).not.toHaveProperty('attempt_in_flight');
    // Cancelling again stops nothing.
    const again = await cancelViaApi(job.id);
    expect([again.status, again.body.attempt_in_flight]).toEqual([200, false]);
  });

  it('a job with no attempt in flight answers attempt_in_flight: false', async () => {
    const job = await createJob(db, alice.user.id, { url: 'http://127.0.0.1:9/hook', delaySeconds: 3600 });
    const res = await cancelViaApi(job.id);
    expect([res.status, res.body.status, res.body.attempt_in_flight]).toEqual([200, 'cancelled', false]);
  });
});

describe('a lease lost to the reaper', () => {
  it("a late result does not wait for the new owner's uncommitted result write (no deadlock between batches)", async () => {
    const first = await runningJob();
    await db.pool.query(`UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1`, [
      first.id,
    ]);
    await rescueExpired(db.pool, [{ id: first.id, attempt: 1, status: 'retrying', delayMs: 0, owner: 'w1' }]);
    const [second] = await claimDueJobs(db.pool, {
      workerId: 'w2',
      batch: 10,
      perUserCap: 10,
      leaseMs: 60_000,
    });
    // The new owner's result write holds the row, uncommitted.
    const newOwner = await openTransaction((c) => recordAttempts(c, 'w2', [answered200(second!)]));
    expect(newOwner.value.get(first.id)).toBe('succeeded');
    // The old owner's late result is written meanwhile; waiting for the row would end in the timeout.
    const c = await db.pool.connect();
    try {
      await c.query(`SET statement_timeout = 5000`);
      expect((await recordAttempts(c, 'w1', [answered200(first)])).get(first.id)).toBe('superseded');
    } finally {
      c.release(true); // not back to the pool with its timeout
      await newOwner.commit();
    }
    expect((await executionsOf(db, first.id)).map((e) => [e.attempt, e.outcome])).toEqual([
      [1, 'lost'],
      [1, 'superseded'],
      [2, 'succeeded'],
    ]);
  });

  it('a late result is superseded, even when the job was cancelled during a later attempt', async () => {
    const first = await runningJob();
    // The reaper took attempt 1 back; attempt 2 was claimed, and then the user cancelled.
    await db.pool.query(`UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1`, [
      first.id,
    ]);
    await rescueExpired(db.pool, [{ id: first.id, attempt: 1, status: 'retrying', delayMs: 0, owner: 'w1' }]);
    const [second] = await claimDueJobs(db.pool, {
      workerId: 'w2',
      batch: 10,
      perUserCap: 10,
      leaseMs: 60_000,
    });
    expect(second).toMatchObject({ id: first.id, attempts: 2 });
    expect((await cancelViaApi(first.id)).body.attempt_in_flight).toBe(true);
    expect((await recordAttempts(db.pool, 'w1', [answered200(first)])).get(first.id)).toBe('superseded');
    expect((await executionsOf(db, first.id)).map((e) => [e.attempt, e.outcome])).toEqual([
      [1, 'lost'],
      [1, 'superseded'],
    ]);
  });
});
