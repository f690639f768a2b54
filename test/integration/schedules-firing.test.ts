// Schedules fired by the real scheduler at a real target: occurrences on time with their headers,
// the next one planned with each claim, overlap skip, misfire policies after an outage, and repair of
// a plan whose pending occurrence a user cancelled.
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { createTestApp, sessionFor, type TestApp } from '../helpers/app.ts';
import { targets, waitFor } from '../helpers/http.ts';
import { forceJobState, startScheduler, type TestScheduler } from '../helpers/scheduler.ts';

let db: TestDb;
let t: TestApp;
let auth: string;
let sched: TestScheduler | null = null;
const { target, closeAll } = targets();

beforeAll(async () => {
  db = await createTestDb();
  t = await createTestApp(db, { SCHEDULE_MIN_INTERVAL_SECONDS: '1', TARGET_ALLOWLIST: '127.0.0.0/8' });
  auth = (await sessionFor(db, t.config)).auth;
});
afterEach(async () => {
  await sched?.stop(0);
  sched = null;
});
afterAll(async () => {
  await closeAll();
  await t.close();
  await db.drop();
});

const create = async (body: Record<string, unknown>) => {
  const res = await request(t.app).post('/v1/schedules').set('Authorization', auth).send(body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; next_runs: { at: string }[] };
};
const outcomes = async (scheduleId: string) =>
  (
    await db.pool.query<{ scheduled_for: Date; status: string; catch_up: boolean; outcomes: string[] }>(
      `SELECT j.scheduled_for, j.status, j.catch_up,
              coalesce(array_agg(e.outcome ORDER BY e.id) FILTER (WHERE e.id IS NOT NULL), '{}') AS outcomes
         FROM jobs j LEFT JOIN job_executions e ON e.job_id = j.id
        WHERE j.schedule_id = $1 GROUP BY j.id ORDER BY j.scheduled_for, j.id`,
      [scheduleId],
    )
  ).rows;

describe('firing schedules', () => {
  it('every second: one request per fire time, never early, each with its own webhook-id and the occurrence headers', async () => {
    const recv = await target((_q, res) => void res.writeHead(204).end());
    sched = await startScheduler(db, { random: () => 0.5 });
    const s = await create({ cron: '* * * * * *', request: { method: 'POST', url: recv.url, body: '{}' } });
    await waitFor(() => recv.requests.length >= 4, '4 occurrences', 10_000);
    const got = recv.requests.slice(0, 4);
    const planned = got.map((r) => Date.parse(String(r.headers['djs-scheduled-for'])));
    for (let i = 0; i < planned.length; i++) {
      expect(got[i]!.headers['djs-schedule-id']).toBe(s.id);
      expect(planned[i]! % 1000).toBe(0);
      if (i > 0) expect(planned[i]! - planned[i - 1]!).toBe(1000);
      expect(got[i]!.headers['djs-catch-up']).toBeUndefined();
    }
    expect(new Set(got.map((r) => r.headers['webhook-id'])).size).toBe(4);
    // Each occurrence is an ordinary job: its attempt recorded, and the next already waiting.
    const rows = await outcomes(s.id);
    expect(rows.filter((r) => r.status === 'scheduled').length).toBeLessThanOrEqual(1);
    expect(rows.filter((r) => r.outcomes.includes('succeeded')).length).toBeGreaterThanOrEqual(3);
    const times = rows.map((r) => r.scheduled_for.getTime());
    expect(new Set(times).size).toBe(times.length);
  });

  it('overlap skip: while an occurrence still runs, the next times are recorded as skipped and counted', async () => {
    const slow = await target((_q, res) => {
      const timer = setTimeout(() => res.writeHead(204).end(), 2500);
      res.on('close', () => clearTimeout(timer));
    });
    sched = await startScheduler(db, { random: () => 0.5 });
    const s = await create({
      cron: '* * * * * *',
      overlap: 'skip',
      request: { method: 'POST', url: slow.url },
    });
    await waitFor(
      async () => (await outcomes(s.id)).filter((r) => r.outcomes.includes('skipped')).length >= 2,
      'two skipped occurrences',
      10_000,
    );
    expect(slow.requests.length).toBe(1);
    const got = await request(t.app).get(`/v1/schedules/${s.id}`).set('Authorization', auth);
    expect(got.body.skipped_count).toBeGreaterThanOrEqual(2);
    const skipped = (await outcomes(s.id)).filter((r) => r.outcomes.includes('skipped'));
    expect(skipped.every((r) => r.status === 'cancelled')).toBe(true);
  });

  it('occurrences count against JOB_MAX_ACTIVE_PER_USER: one that would exceed it is skipped, saying why, and counted', async () => {
    const hang = await target((_q, res) => {
      const timer = setTimeout(() => res.writeHead(204).end(), 5000);
      res.on('close', () => clearTimeout(timer));
    });
    // A user of its own, with 2 one-off jobs waiting: the schedule's occurrences fill the quota of 4.
    const u = await sessionFor(db, t.config);
    for (const name of ['a', 'b']) {
      const job = await request(t.app)
        .post('/v1/jobs')
        .set('Authorization', u.auth)
        .send({ name, request: { method: 'POST', url: hang.url }, delay_seconds: 3600 });
      expect(job.status).toBe(201);
    }
    sched = await startScheduler(db, { random: () => 0.5, maxActivePerUser: 4 });
    const res = await request(t.app)
      .post('/v1/schedules')
      .set('Authorization', u.auth)
      .send({ cron: '* * * * * *', request: { method: 'POST', url: hang.url } });
    expect(res.status).toBe(201);
    const s = res.body as { id: string };
    await waitFor(
      async () => (await outcomes(s.id)).some((r) => r.outcomes.includes('skipped')),
      'an occurrence skipped for the quota',
      10_000,
    );
    // Two occurrences hang (running), with two one-offs waiting: the quota is full, so the third is
    // skipped instead of piling up; never silently: its execution says why.
    const { rows } = await db.pool.query<{ error: string }>(
      `SELECT e.error FROM job_executions e JOIN jobs j ON j.id = e.job_id
        WHERE j.schedule_id = $1 AND e.outcome = 'skipped'`,
      [s.id],
    );
    expect(rows[0]!.error).toBe(
      'skipped: the user already had 4 active jobs, the most JOB_MAX_ACTIVE_PER_USER allows (this occurrence would exceed it)',
    );
    expect(hang.requests.length).toBe(2);
    const active = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM jobs j JOIN users u ON u.id = j.user_id
        WHERE u.id = $1 AND j.status IN ('scheduled', 'retrying', 'running') AND j.scheduled_for IS DISTINCT FROM (
          SELECT max(scheduled_for) FROM jobs WHERE schedule_id = $2)`,
      [u.user.id, s.id],
    );
    expect(active.rows[0]!.n).toBeLessThanOrEqual(4); // the pending next occurrence aside
    const metric = await sched.metrics.registry.getSingleMetricAsString('djs_occurrences_skipped_total');
    expect(metric).toMatch(/djs_occurrences_skipped_total\{reason="quota"\} [1-9]/);
    const view = await request(t.app).get(`/v1/schedules/${s.id}`).set('Authorization', u.auth);
    expect(view.body.skipped_count).toBeGreaterThanOrEqual(1);
  });

  it('a user-cancelled pending occurrence: the plan is repaired and the schedule goes on', async () => {
    const recv = await target((_q, res) => void res.writeHead(204).end());
    const s = await create({ cron: '* * * * * *', request: { method: 'POST', url: recv.url } });
    const { rows } = await db.pool.query(
      `SELECT id FROM jobs WHERE schedule_id = $1 AND status = 'scheduled'`,
      [s.id],
    );
    expect(
      (await request(t.app).post(`/v1/jobs/${rows[0].id}/cancel`).set('Authorization', auth)).status,
    ).toBe(200);
    sched = await startScheduler(db, { random: () => 0, planRepairIntervalMs: 200 });
    await waitFor(() => recv.requests.length >= 2, 'the schedule to fire again after the repair', 10_000);
  });
});

describe('re-driving an old occurrence', () => {
  it('runs it as asked, even with misfire skip and overlap skip (those rules are for the current occurrence)', async () => {
    const recv = await target((_q, res) => void res.writeHead(204).end());
    const s = await create({
      cron: '0 0 1 1 *',
      misfire: 'skip',
      overlap: 'skip',
      request: { method: 'POST', url: recv.url },
    });
    const { rows } = await db.pool.query(`SELECT id FROM jobs WHERE schedule_id = $1`, [s.id]);
    const id = rows[0].id as string;
    // It ran and failed long ago; the schedule has moved on since.
    await db.pool.query(
      `UPDATE jobs SET scheduled_for = now() - interval '10 days', fire_at = now() - interval '10 days' WHERE id = $1`,
      [id],
    );
    await forceJobState(db, id, 'failed');
    const retried = await request(t.app).post(`/v1/jobs/${id}/retry`).set('Authorization', auth);
    expect(retried.status).toBe(200);
    sched = await startScheduler(db, { random: () => 0.5 });
    await waitFor(() => recv.requests.length === 1, 'the re-driven occurrence to run', 10_000);
    await waitFor(
      async () => (await outcomes(s.id)).some((r) => r.outcomes.includes('succeeded')),
      'its result',
      10_000,
    );
    expect((await outcomes(s.id)).flatMap((r) => r.outcomes)).not.toContain('skipped');
  });
});

describe('misfire after an outage (every minute; planned 5 minutes ago, no scheduler ran since)', () => {
  async function afterOutage(misfire: string) {
    const recv = await target((_q, res) => void res.writeHead(204).end());
    const s = await create({ cron: '* * * * *', misfire, request: { method: 'POST', url: recv.url } });
    // Time travel through the database: the pending occurrence was due 5 minutes ago.
    await db.pool.query(
      `WITH p AS (SELECT date_trunc('minute', now()) - interval '5 minutes' AS t)
       UPDATE jobs SET scheduled_for = p.t, fire_at = p.t, next_attempt_at = p.t FROM p WHERE schedule_id = $1`,
      [s.id],
    );
    await db.pool.query(
      `UPDATE schedules SET planned_until = date_trunc('minute', now()) - interval '5 minutes' WHERE id = $1`,
      [s.id],
    );
    sched = await startScheduler(db, { random: () => 0.5 });
    // Settled: the next future occurrence is planned and nothing is left to run or record.
    await waitFor(
      async () => {
        const rows = await outcomes(s.id);
        const future = rows.filter((r) => r.status === 'scheduled' && r.scheduled_for.getTime() > Date.now());
        const busy = rows.some(
          (r) =>
            r.status !== 'cancelled' && r.scheduled_for.getTime() <= Date.now() && r.outcomes.length === 0,
        );
        return future.length === 1 && !busy;
      },
      'the outage to be handled',
      10_000,
    );
    return { rows: await outcomes(s.id), recv };
  }
  // Times more than the 60 s grace ago are missed (t-5 … t-1 minutes, t = this minute's start); this
  // minute's start is late by less than the grace, so it is not missed: it runs like any late job.
  const missed = (r: { scheduled_for: Date }) => r.scheduled_for.getTime() < Date.now() - 60_000;
  const plannedFor = (r: { headers: Record<string, unknown> }) =>
    Date.parse(String(r.headers['djs-scheduled-for']));

  it('run_once: the late occurrence runs once as a catch-up (marked), then future times only', async () => {
    const { rows, recv } = await afterOutage('run_once');
    const catchUps = rows.filter((r) => r.catch_up);
    expect(catchUps).toHaveLength(1);
    expect(rows.filter(missed)).toEqual(catchUps);
    expect(catchUps[0]!.outcomes).toEqual(['succeeded']);
    const marked = recv.requests.filter((r) => r.headers['djs-catch-up'] === 'true');
    expect(marked).toHaveLength(1);
    // djs-scheduled-for stays the planned (missed) time.
    expect(plannedFor(marked[0]!)).toBe(catchUps[0]!.scheduled_for.getTime());
  });

  it('run_all: every missed time runs as a catch-up, then future times', async () => {
    const { rows, recv } = await afterOutage('run_all');
    const gone = rows.filter(missed);
    expect(gone.length).toBeGreaterThanOrEqual(4);
    expect(gone.every((r) => r.catch_up && r.outcomes.join() === 'succeeded')).toBe(true);
    expect(recv.requests.filter((r) => r.headers['djs-catch-up'] === 'true')).toHaveLength(gone.length);
    const times = rows.map((r) => r.scheduled_for.getTime());
    expect(new Set(times).size).toBe(times.length);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(60_000);
  });

  it('skip: the late occurrence is recorded as skipped, nothing missed runs, the next future time is planned', async () => {
    const { rows, recv } = await afterOutage('skip');
    expect(rows.filter(missed).map((r) => r.outcomes)).toEqual([['skipped']]);
    for (const r of recv.requests) expect(plannedFor(r)).toBeGreaterThanOrEqual(Date.now() - 70_000);
    expect(recv.requests.every((r) => r.headers['djs-catch-up'] === undefined)).toBe(true);
  });
});
