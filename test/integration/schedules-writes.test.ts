// Schedule writes and job cancel tell the truth about what was written (issue #29, items 1 and 2):
// the answer is made on the connection that wrote, so a busy pool cannot turn a committed change
// into a 503; concurrent creates with one Idempotency-Key create one schedule; and a claim racing
// an edit, pause or delete of the same schedule never deadlocks (the lock order in CLAUDE.md).
import type pg from 'pg';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { createTestApp, sessionFor, type TestApp } from '../helpers/app.ts';
import { waitFor } from '../helpers/http.ts';
import { createJob, createUser } from '../helpers/scheduler.ts';
import { createPool, type Pool } from '../../src/db/pool.ts';
import { claimDueJobs, type ClaimedJob } from '../../src/sql/scheduler.ts';
import { OccurrencePlanner } from '../../src/scheduler/occurrences.ts';
import { Claimer } from '../../src/scheduler/claimer.ts';
import { SchedulerEvents } from '../../src/scheduler/events.ts';
import { silentLogger } from '../../src/logger.ts';

let db: TestDb;
let busy: ReturnType<typeof refusingPool>;
/** The API on `busy.pool`: its checkouts can be refused from a chosen statement on. */
let t: TestApp;

/**
 * A pool that refuses every checkout once a statement matching `refuseAfter` has returned, with the
 * error a pool gives when all its connections stay taken for connectionTimeoutMillis: an API server
 * under load right after the write. Whatever the request still needs must come from the connection
 * it holds.
 */
function refusingPool(url: string) {
  const pool: Pool = createPool(url, { max: 10, applicationName: 'test-refusing' });
  let after: RegExp | null = null;
  let refusing = false;
  const connect = pool.connect.bind(pool) as (cb?: unknown) => unknown;
  (pool as unknown as { connect: (cb?: (err: Error) => void) => unknown }).connect = (cb) => {
    if (!refusing) return connect(cb);
    const err = new Error('timeout exceeded when trying to connect');
    if (!cb) return Promise.reject(err);
    queueMicrotask(() => cb(err));
    return undefined;
  };
  pool.on('connect', (client: pg.PoolClient) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args) => {
      const q = args[0];
      const text = typeof q === 'string' ? q : ((q as { text?: string } | null)?.text ?? '');
      const done = () => {
        if (after?.test(text)) refusing = true;
      };
      const i = args.findIndex((a) => typeof a === 'function'); // pool.query's callback form
      if (i >= 0) {
        const cb = args[i] as (err: unknown, res: unknown) => void;
        args[i] = (err: unknown, res: unknown) => {
          if (!err) done();
          cb(err, res);
        };
        return query(...args);
      }
      return (query(...args) as Promise<unknown>).then((res) => {
        done();
        return res;
      });
    };
  });
  return {
    pool,
    refuseAfter(statement: RegExp) {
      after = statement;
      refusing = false;
    },
    get refusing() {
      return refusing;
    },
    reset() {
      after = null;
      refusing = false;
    },
  };
}

const everyMinute = (over: Record<string, unknown> = {}) => ({
  name: 'tick',
  cron: '* * * * *',
  timezone: 'UTC',
  request: { method: 'POST', url: 'https://example.com/hook', body: '{}' },
  ...over,
});
const pendingOf = async (scheduleId: string) =>
  (
    await db.pool.query<{ id: string; scheduled_for: Date }>(
      `SELECT id, scheduled_for FROM jobs WHERE schedule_id = $1 AND status = 'scheduled' ORDER BY scheduled_for`,
      [scheduleId],
    )
  ).rows;
const statusOf = async (jobId: string) =>
  (
    await db.pool.query<{ status: string; schedule_id: string | null }>(
      `SELECT status, schedule_id FROM jobs WHERE id = $1`,
      [jobId],
    )
  ).rows[0]!;
/** Backends of this database waiting for a lock of the given type (advisory, transactionid, …). */
const lockWaiters = async (type: string) =>
  (
    await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = $1`,
      [type],
    )
  ).rows[0]!.n;

beforeAll(async () => {
  db = await createTestDb();
  busy = refusingPool(db.url);
  t = await createTestApp({ ...db, pool: busy.pool }, { TARGET_ALLOWLIST: '', SCHEDULES_MAX_PER_USER: '3' });
});
afterEach(() => busy.reset());
afterAll(async () => {
  await t.close();
  await busy.pool.end();
  await db.drop();
});

describe('the answer is made on the connection that wrote: a busy pool after the write cannot fail it', () => {
  it('create, PATCH, pause, resume and DELETE answer success with no second connection', async () => {
    const u = await sessionFor(db, t.config);
    busy.refuseAfter(/^\s*INSERT INTO schedules/);
    const created = await request(t.app)
      .post('/v1/schedules')
      .set('Authorization', u.auth)
      .send(everyMinute());
    expect(busy.refusing).toBe(true);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.next_runs).toHaveLength(5);
    const id = created.body.id as string;
    expect((await pendingOf(id))[0]!.scheduled_for.toISOString()).toBe(created.body.next_runs[0].at);

    busy.refuseAfter(/^\s*UPDATE schedules SET name/);
    const patched = await request(t.app)
      .patch(`/v1/schedules/${id}`)
      .set('Authorization', u.auth)
      .send({ cron: '30 * * * *' });
    expect(busy.refusing).toBe(true);
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(patched.body).toMatchObject({ cron: '30 * * * *', etag: '"v2"' });
    expect((await pendingOf(id))[0]!.scheduled_for.toISOString()).toBe(patched.body.next_runs[0].at);

    busy.refuseAfter(/^\s*UPDATE schedules SET paused/);
    const paused = await request(t.app).post(`/v1/schedules/${id}/pause`).set('Authorization', u.auth);
    expect(busy.refusing).toBe(true);
    expect(paused.status, JSON.stringify(paused.body)).toBe(200);
    expect(paused.body).toMatchObject({ status: 'paused', next_runs: [] });

    busy.refuseAfter(/^\s*UPDATE schedules SET paused/);
    const resumed = await request(t.app).post(`/v1/schedules/${id}/resume`).set('Authorization', u.auth);
    expect(busy.refusing).toBe(true);
    expect(resumed.status, JSON.stringify(resumed.body)).toBe(200);
    expect(resumed.body.status).toBe('active');
    expect((await pendingOf(id))[0]!.scheduled_for.toISOString()).toBe(resumed.body.next_runs[0].at);

    busy.refuseAfter(/^\s*DELETE FROM schedules/);
    const deleted = await request(t.app).delete(`/v1/schedules/${id}`).set('Authorization', u.auth);
    expect(busy.refusing).toBe(true);
    expect(deleted.status).toBe(204);
    expect((await db.pool.query(`SELECT 1 FROM schedules WHERE id = $1`, [id])).rowCount).toBe(0);
  });

  it('job cancel answers the cancelled job with no second connection', async () => {
    const u = await sessionFor(db, t.config);
    const job = await request(t.app)
      .post('/v1/jobs')
      .set('Authorization', u.auth)
      .send({ request: { method: 'POST', url: 'https://example.com/x' }, delay_seconds: 3600 });
    expect(job.status).toBe(201);
    busy.refuseAfter(/SET status = 'cancelled'/);
    const res = await request(t.app).post(`/v1/jobs/${job.body.id}/cancel`).set('Authorization', u.auth);
    expect(busy.refusing).toBe(true);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ id: job.body.id, status: 'cancelled' });
    expect((await statusOf(job.body.id)).status).toBe('cancelled');
  });
});

describe('concurrent creates with one Idempotency-Key', () => {
  /**
   * Sends both creates while a transaction holds the user's create lock, so both are inside their
   * transactions, queued on it, before either can insert; then lets them go.
   */
  async function racedCreates(userId: string, auth: string, bodies: [object, object], key: string) {
    const holder = await db.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT pg_advisory_xact_lock(hashtextextended('schedules:quota:' || $1, 0))`, [
        userId,
      ]);
      const sent = bodies.map((b) =>
        request(t.app)
          .post('/v1/schedules')
          .set('Authorization', auth)
          .set('Idempotency-Key', key)
          .send(b)
          .then((r) => r),
      );
      await waitFor(async () => (await lockWaiters('advisory')) === 2, 'both creates queued on the lock');
      await holder.query('ROLLBACK');
      const [a, b] = await Promise.all(sent);
      return [a!, b!] as const;
    } finally {
      holder.release();
    }
  }
  const keyed = async (userId: string, key: string) =>
    (
      await db.pool.query<{ id: string }>(
        `SELECT id FROM schedules WHERE user_id = $1 AND idempotency_key = $2`,
        [userId, key],
      )
    ).rows;

  it('same body: one 201 and one 200 replay of the same schedule, even when the first fills the quota', async () => {
    const u = await sessionFor(db, t.config);
    // SCHEDULES_MAX_PER_USER is 3: the first create takes the last place.
    for (const name of ['a', 'b'])
      expect(
        (await request(t.app).post('/v1/schedules').set('Authorization', u.auth).send(everyMinute({ name })))
          .status,
      ).toBe(201);
    // No second connection after the insert either: a replay is read in its own transaction.
    busy.refuseAfter(/^\s*INSERT INTO schedules/);
    const [a, b] = await racedCreates(u.user.id, u.auth, [everyMinute(), everyMinute()], 'race-1');
    expect([a.status, b.status].sort(), JSON.stringify([a.body, b.body])).toEqual([200, 201]);
    const replay = a.status === 200 ? a : b;
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(a.body.id).toBe(b.body.id);
    expect(await keyed(u.user.id, 'race-1')).toEqual([{ id: a.body.id }]);
    expect(await pendingOf(a.body.id)).toHaveLength(1);
  });

  it('other body: one 201, and 409 idempotency_key_reused for the other', async () => {
    const u = await sessionFor(db, t.config);
    busy.refuseAfter(/^\s*INSERT INTO schedules/);
    const [a, b] = await racedCreates(
      u.user.id,
      u.auth,
      [everyMinute({ name: 'one' }), everyMinute({ name: 'two' })],
      'race-2',
    );
    expect([a.status, b.status].sort()).toEqual([201, 409]);
    expect((a.status === 409 ? a : b).body.error.code).toBe('idempotency_key_reused');
    expect(await keyed(u.user.id, 'race-2')).toEqual([{ id: (a.status === 201 ? a : b).body.id }]);
  });
});

describe('lock order: a claim and an edit, pause or delete of the same schedule', () => {
  const planner = () =>
    new OccurrencePlanner(
      { pool: db.pool, log: silentLogger, events: new SchedulerEvents() },
      { repairIntervalMs: 60_000, notifyWithinMs: 5000, maxActivePerUser: 1000 },
    );
  const claimOpts = { workerId: 'w-lock', batch: 10, perUserCap: 50, leaseMs: 30_000 };

  /** Daily at this UTC hour: the fire time nearest to a test's run is at least 11 hours away. */
  const farHour = (new Date().getUTCHours() + 12) % 24;

  /**
   * A schedule whose pending occurrence is due now: planned for a second ago (late, within the
   * grace), its next fire time hours away, so no run of the test meets a fire time and misfire rules.
   */
  async function scheduleDueNow() {
    const u = await sessionFor(db, t.config);
    const s = (
      await request(t.app)
        .post('/v1/schedules')
        .set('Authorization', u.auth)
        .send(everyMinute({ cron: `0 ${farHour} * * *` }))
    ).body;
    const [occ] = await pendingOf(s.id);
    const {
      rows: [at],
    } = await db.pool.query<{ t: Date }>(
      `UPDATE jobs SET scheduled_for = now() - interval '1 second', fire_at = now() - interval '1 second',
              next_attempt_at = now() - interval '1 second'
        WHERE id = $1 RETURNING scheduled_for AS t`,
      [occ!.id],
    );
    await db.pool.query(`UPDATE schedules SET planned_until = $2 WHERE id = $1`, [s.id, at!.t]);
    return { u, s, occ: { id: occ!.id, scheduled_for: at!.t } };
  }

  it.each([
    ['PATCH', 'patch', '', { cron: '30 * * * *' }, 200],
    ['pause', 'post', '/pause', undefined, 200],
    ['DELETE', 'delete', '', undefined, 204],
  ] as const)(
    'the claim has locked the occurrence, %s locks the schedule and waits for it: both complete, no deadlock',
    async (_what, method, suffix, body, status) => {
      const { u, s, occ } = await scheduleDueNow();
      const claim = await db.pool.connect();
      try {
        await claim.query('BEGIN');
        // The claim's first lock: the occurrence's job row.
        const claimed = await claimDueJobs(claim, claimOpts);
        expect(claimed.map((j) => j.id)).toContain(occ.id);
        // The writer locks the schedule, then waits for the occurrence the claim holds.
        const req = request(t.app)[method](`/v1/schedules/${s.id}${suffix}`).set('Authorization', u.auth);
        const writer = (body ? req.send(body) : req).then((r) => r);
        await waitFor(
          async () => (await lockWaiters('transactionid')) >= 1,
          'the writer waiting for the claim',
        );
        // The claim goes on to its schedules (before the fix: waited for the writer's schedule lock,
        // and one of the two was aborted with 40P01 after deadlock_timeout).
        const { run } = await planner().afterClaim(claim, claimed);
        await claim.query('COMMIT');
        expect(run.map((j) => j.id)).toContain(occ.id);
        const res = await writer;
        expect(res.status, JSON.stringify(res.body)).toBe(status);
      } finally {
        await claim.query('ROLLBACK').catch(() => {});
        claim.release();
      }
      // The claim came first: its occurrence runs; the writer's change holds.
      expect(await statusOf(occ.id)).toMatchObject({
        status: 'running',
        schedule_id: method === 'delete' ? null : s.id,
      });
      const pending = await pendingOf(s.id);
      if (method === 'patch') {
        expect(pending).toHaveLength(1);
        expect(pending[0]!.scheduled_for.getUTCMinutes()).toBe(30);
      } else expect(pending).toEqual([]);
    },
  );

  it('a claim whose schedule another transaction holds does not wait: it plans nothing, the repair pass does', async () => {
    const { s, occ } = await scheduleDueNow();
    const holder = await db.pool.connect();
    const claim = await db.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM schedules WHERE id = $1 FOR UPDATE`, [s.id]);
      await claim.query('BEGIN');
      await claim.query(`SET LOCAL lock_timeout = '5s'`); // a claim that waited would fail, not hang
      const claimed = await claimDueJobs(claim, claimOpts);
      const { run } = await planner().afterClaim(claim, claimed);
      await claim.query('COMMIT');
      expect(run.map((j) => j.id)).toContain(occ.id);
      expect(await pendingOf(s.id)).toEqual([]); // not planned: the schedule was held
    } finally {
      await holder.query('ROLLBACK');
      await claim.query('ROLLBACK').catch(() => {});
      holder.release();
      claim.release();
    }
    expect((await planner().repairOnce()).planned).toBeGreaterThanOrEqual(1);
    // The next fire time after the claimed one.
    const [next] = await pendingOf(s.id);
    const after = next!.scheduled_for.getTime() - occ.scheduled_for.getTime();
    expect(after).toBeGreaterThan(0);
    expect(after).toBeLessThanOrEqual(86_400_000);
    expect([next!.scheduled_for.getUTCHours(), next!.scheduled_for.getUTCMinutes()]).toEqual([farHour, 0]);
  });

  it('the claim loop retries a claim that lost a lock race at once, logging a warning, not an error', async () => {
    const user = await createUser(db);
    const job = await createJob(db, user.id, { url: 'https://example.com/x' });
    const lines: { level: number; msg: string; retry_in_ms?: number }[] = [];
    const log = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    const got: ClaimedJob[] = [];
    let raced = false;
    const c = new Claimer(
      {
        pool: db.pool,
        log,
        events: new SchedulerEvents(),
        inFlight: () => 0,
        dispatch: (j) => got.push(j),
        afterClaim: (_tx, jobs) => {
          if (raced) return Promise.resolve({ run: jobs });
          raced = true; // what PostgreSQL raises in the transaction it aborts to break a deadlock
          return Promise.reject(Object.assign(new Error('deadlock detected'), { code: '40P01' }));
        },
      },
      {
        workerId: 'w-race',
        concurrency: 10,
        batchSize: 10,
        perUserCap: 50,
        leaseMs: 30_000,
        pollIntervalMs: 5000,
      },
    );
    c.start();
    try {
      await waitFor(() => got.some((j) => j.id === job.id), 'the job claimed after the lost race');
    } finally {
      await c.stop();
    }
    const failed = lines.filter((l) => l.level >= 40);
    expect(failed).toEqual([
      expect.objectContaining({
        level: 40,
        retry_in_ms: 0,
        msg: 'claim lost a lock race; claiming again at once',
      }),
    ]);
  });
});
