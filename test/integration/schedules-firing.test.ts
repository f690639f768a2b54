// Schedules fired by the real scheduler at a real target: occurrences on time with their headers,
// the next one planned with each claim, overlap skip, misfire policies after an outage, and repair of
// a plan whose pending occurrence a user cancelled.
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { createTestApp, sessionFor, type TestApp } from '../helpers/app.ts';
import { targets } from '../helpers/http.ts';
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
/**
 * Resolves when `n` attempts at `recv` have succeeded on `s`: each attempt's request reached the
 * target before its result was recorded, so the target knows its job id by then.
 */
const succeededAt = (
  s: TestScheduler,
  recv: { requests: { headers: Record<string, unknown> }[] },
  n: number,
) =>
  s.attempts.until(
    (seen) => {
      const ids = new Set(recv.requests.map((r) => r.headers['webhook-id']));
      return seen.filter((a) => a.status === 'succeeded' && ids.has(a.jobId)).length >= n;
    },
    `${n} attempts at the target to succeed`,
    10_000,
  );
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
    // Four of its occurrences recorded (each one's request reached the target before its result).
    await succeededAt(sched, recv, 4);
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
    await sched.occurrences.until(
      (seen) => seen.filter((o) => o.scheduleId === s.id && o.kind === 'skipped').length >= 2,
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
    await sched.occurrences.first(
      (o) => o.scheduleId === s.id && o.kind === 'skipped' && o.reason === 'quota',
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
    await sched.occurrences.first(
      (o) => o.scheduleId === s.id && o.kind === 'created',
      'the repair to plan an occurrence',
      10_000,
    );
    await succeededAt(sched, recv, 2);
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
    expect((await sched.finished(id, ['succeeded', 'failed', 'cancelled'], 10_000)).status).toBe('succeeded');
    expect(recv.requests).toHaveLength(1);
    expect((await outcomes(s.id)).flatMap((r) => r.outcomes)).not.toContain('skipped');
  });

  // The failed occurrence was the schedule's current one, 10 minutes ago; then the schedule was
  // paused, finished, deleted, or (however unlikely) still planned up to that very occurrence.
  // Whatever the misfire policy, the re-drive runs once, unflagged, and plans nothing.
  const afterward = {
    paused: (id: string) => request(t.app).post(`/v1/schedules/${id}/pause`).set('Authorization', auth),
    finished: (id: string) =>
      db.pool.query(
        `UPDATE schedules SET finished_at = now(), end_at = now() - interval '1 minute' WHERE id = $1`,
        [id],
      ),
    deleted: (id: string) => request(t.app).delete(`/v1/schedules/${id}`).set('Authorization', auth),
    'still planned up to it': () => Promise.resolve(),
  };
  for (const misfire of ['skip', 'run_once', 'run_all'])
    for (const [what, change] of Object.entries(afterward))
      it(`misfire ${misfire}, schedule ${what}: a re-driven failed occurrence runs as asked, never as a catch-up`, async () => {
        const recv = await target((_q, res) => void res.writeHead(204).end());
        const s = await create({
          cron: '* * * * *',
          misfire,
          overlap: 'skip',
          request: { method: 'POST', url: recv.url },
        });
        const { rows } = await db.pool.query<{ id: string }>(
          `WITH p AS (SELECT date_trunc('minute', now()) - interval '10 minutes' AS t)
           UPDATE jobs SET scheduled_for = p.t, fire_at = p.t FROM p WHERE schedule_id = $1 RETURNING id`,
          [s.id],
        );
        const id = rows[0]!.id;
        await db.pool.query(
          `UPDATE schedules SET planned_until = (SELECT scheduled_for FROM jobs WHERE id = $2) WHERE id = $1`,
          [s.id, id],
        );
        await forceJobState(db, id, 'failed');
        await change(s.id);
        const retried = await request(t.app).post(`/v1/jobs/${id}/retry`).set('Authorization', auth);
        expect(retried.status).toBe(200);
        sched = await startScheduler(db, { random: () => 0.5, planRepairIntervalMs: 60_000 });
        await sched.finished(id, ['succeeded', 'failed', 'cancelled'], 10_000);
        const { rows: after } = await db.pool.query<{
          status: string;
          catch_up: boolean;
          outcomes: string[];
        }>(
          `SELECT j.status, j.catch_up, array_agg(e.outcome ORDER BY e.id) AS outcomes
             FROM jobs j JOIN job_executions e ON e.job_id = j.id WHERE j.id = $1 GROUP BY j.id`,
          [id],
        );
        expect(after[0]).toEqual({ status: 'succeeded', catch_up: false, outcomes: ['succeeded'] });
        expect(recv.requests).toHaveLength(1);
        expect(recv.requests[0]!.headers['webhook-id']).toBe(id);
        expect(recv.requests[0]!.headers['djs-catch-up']).toBeUndefined();
        // Nothing planned from it: the re-drive is not the schedule's current occurrence.
        const { rows: others } = await db.pool.query(
          `SELECT id FROM jobs WHERE schedule_id = $1 AND id <> $2`,
          [s.id, id],
        );
        expect(others).toEqual([]);
      });

  it('an ordinary retry of an occurrence long past its time runs (misfire judges first firings only)', async () => {
    const recv = await target((_q, res) => void res.writeHead(204).end());
    const s = await create({
      cron: '* * * * *',
      misfire: 'skip',
      request: { method: 'POST', url: recv.url },
    });
    const { rows } = await db.pool.query<{ id: string }>(
      `WITH p AS (SELECT date_trunc('minute', now()) - interval '10 minutes' AS t)
       UPDATE jobs SET scheduled_for = p.t, fire_at = p.t FROM p WHERE schedule_id = $1 RETURNING id`,
      [s.id],
    );
    const id = rows[0]!.id;
    await db.pool.query(
      `UPDATE schedules SET planned_until = (SELECT scheduled_for FROM jobs WHERE id = $2) WHERE id = $1`,
      [s.id, id],
    );
    // Attempt 1 failed; attempt 2 is due now, 10 minutes after the occurrence's time.
    await forceJobState(db, id, 'running', { attempts: 1 });
    await db.pool.query(
      `UPDATE jobs SET status = 'retrying', next_attempt_at = now(), lease_token = NULL, lease_owner = NULL,
              lease_expires_at = NULL, heartbeat_at = NULL WHERE id = $1`,
      [id],
    );
    sched = await startScheduler(db, { random: () => 0.5, planRepairIntervalMs: 60_000 });
    expect((await sched.finished(id, ['succeeded', 'failed', 'cancelled'], 10_000)).status).toBe('succeeded');
    expect(recv.requests[0]!.headers['webhook-id']).toBe(id);
    expect(recv.requests[0]!.headers['djs-catch-up']).toBeUndefined();
  });
});

// A scheduler outage of about 150 s, deterministically: the pending occurrence is moved to a time
// 150 s (rounded down to the schedule's unit) before the first scheduler starts. Each case runs until
// the miss is handled (the first plain occurrence after it exists and every catch-up finished), then
// stops the scheduler and compares everything with the fire times the database planned against.
describe('misfire after a 150 s outage', () => {
  const SECOND = 1000;
  const MINUTE = 60_000;
  /** `holdAnswers`: the target answers nothing until the last catch-up is planned (all run at once). */
  async function afterOutage(
    cron: string,
    unit: number,
    misfire: string,
    o: { overlap?: string; holdAnswers?: boolean } = {},
  ) {
    let release = () => {};
    const released = o.holdAnswers ? new Promise<void>((r) => (release = r)) : Promise.resolve();
    const recv = await target(async (_q, res) => {
      await released;
      res.writeHead(204).end();
    });
    const s = await create({
      cron,
      misfire,
      overlap: o.overlap ?? 'allow',
      request: { method: 'POST', url: recv.url },
    });
    const { rows } = await db.pool.query<{ t: Date }>(
      `WITH p AS (SELECT date_trunc($2, now() - interval '150 seconds') AS t)
       UPDATE jobs SET scheduled_for = p.t, fire_at = p.t, next_attempt_at = p.t FROM p WHERE schedule_id = $1
       RETURNING p.t`,
      [s.id, unit === SECOND ? 'second' : 'minute'],
    );
    const T = rows[0]!.t.getTime();
    await db.pool.query(`UPDATE schedules SET planned_until = $2 WHERE id = $1`, [s.id, rows[0]!.t]);
    // Earlier tests' schedules are still active in this file's database: paused (as the API pauses),
    // so that this scheduler fires and counts (the skip metric) this schedule alone.
    await db.pool.query(`UPDATE schedules SET paused = true, planned_until = NULL WHERE id <> $1`, [s.id]);
    await db.pool.query(
      `UPDATE jobs SET status = 'cancelled', completed_at = now(), updated_at = now()
        WHERE schedule_id <> $1 AND status IN ('scheduled', 'retrying')`,
      [s.id],
    );
    sched = await startScheduler(db, { random: () => 0.5, planRepairIntervalMs: 60_000 });
    // The miss is handled once the first plain occurrence after it is planned (with the last
    // catch-up, if any: each catch-up is planned in the claim of the one before) …
    await sched.occurrences.first(
      (o) => o.scheduleId === s.id && o.kind === 'created' && !o.catchUp && o.scheduledFor.getTime() > T,
      'the first plain occurrence after the miss',
      20_000,
    );
    release();
    // … and every catch-up (all of them committed by then) has run.
    const { rows: catchUps } = await db.pool.query<{ id: string }>(
      `SELECT id FROM jobs WHERE schedule_id = $1 AND catch_up`,
      [s.id],
    );
    for (const c of catchUps) await sched.finished(c.id, ['succeeded', 'failed', 'cancelled'], 20_000);
    const metric = await sched.metrics.registry.getSingleMetricAsString('djs_occurrences_skipped_total');
    await sched.stop(5000);
    sched = null;
    const jobs = await outcomes(s.id);
    const { rows: catchUpJobs } = await db.pool.query<{ scheduled_for: Date; next_attempt_at: Date }>(
      `SELECT scheduled_for, next_attempt_at FROM jobs WHERE schedule_id = $1 AND catch_up ORDER BY seq`,
      [s.id],
    );
    const view = await request(t.app).get(`/v1/schedules/${s.id}`).set('Authorization', auth);
    const firstPlain = Math.min(
      ...jobs
        .filter((r) => !r.catch_up && r.scheduled_for.getTime() > T)
        .map((r) => r.scheduled_for.getTime()),
    );
    const at = (r: { headers: Record<string, unknown> }) =>
      Date.parse(String(r.headers['djs-scheduled-for']));
    const caughtUp = recv.requests.filter((r) => r.headers['djs-catch-up'] === 'true').map(at);
    const plainRequests = recv.requests.filter((r) => r.headers['djs-catch-up'] === undefined).map(at);
    const claimed = jobs.find((r) => r.scheduled_for.getTime() === T)!;
    return {
      T,
      claimed,
      // Jobs planned between the outage's first time and the first plain occurrence after it.
      between: jobs.filter((r) => r.scheduled_for.getTime() > T && r.scheduled_for.getTime() < firstPlain),
      catchUpJobs: catchUpJobs.map((r) => ({
        at: r.scheduled_for.getTime(),
        dueAt: r.next_attempt_at.getTime(),
      })),
      firstPlain,
      caughtUp,
      plainRequests,
      skippedCount: view.body.skipped_count as number,
      misfireMetric: Number(/reason="misfire"\} (\d+)/.exec(metric)?.[1] ?? 0),
      reason: async () =>
        (
          await db.pool.query<{ error: string }>(
            `SELECT e.error FROM job_executions e JOIN jobs j ON j.id = e.job_id WHERE j.schedule_id = $1 AND j.scheduled_for = $2`,
            [s.id, new Date(T)],
          )
        ).rows[0]?.error,
    };
  }
  const times = (from: number, to: number, unit: number) =>
    Array.from({ length: Math.round((to - from) / unit) + 1 }, (_, i) => from + i * unit);

  for (const [label, cron, unit] of [
    ['every second', '* * * * * *', SECOND],
    ['every minute', '* * * * *', MINUTE],
  ] as const) {
    describe(label, () => {
      it('skip: nothing missed runs; every missed time is counted in skipped_count; then the next future time', async () => {
        const r = await afterOutage(cron, unit, 'skip');
        expect(r.claimed.outcomes).toEqual(['skipped']);
        expect(await r.reason()).toMatch(/^skipped: missed.*\(misfire: skip\)$/);
        expect(r.between).toEqual([]);
        expect(r.caughtUp).toEqual([]);
        expect(r.plainRequests.every((x) => x >= r.firstPlain)).toBe(true);
        // Every fire time from T up to the first plain one was skipped: 150 or more for every second.
        expect(r.skippedCount).toBe((r.firstPlain - r.T) / unit);
        expect(r.skippedCount).toBeGreaterThanOrEqual(Math.floor(150_000 / unit));
        expect(r.misfireMetric).toBe(r.skippedCount);
      });

      it('run_once: exactly one run, a catch-up for the latest missed time; the rest counted', async () => {
        const r = await afterOutage(cron, unit, 'run_once');
        expect(r.claimed.outcomes).toEqual(['skipped']);
        expect(await r.reason()).toBe('skipped: missed; misfire run_once runs only the latest missed time');
        const latest = r.firstPlain - unit;
        expect(r.catchUpJobs.map((c) => c.at)).toEqual([latest]);
        // The latest fire time at or before the moment it was planned (due then).
        expect(latest).toBe(Math.floor(r.catchUpJobs[0]!.dueAt / unit) * unit);
        expect(r.between.map((b) => [b.outcomes, b.catch_up])).toEqual([[['succeeded'], true]]);
        expect(r.caughtUp).toEqual([latest]);
        expect(r.plainRequests.every((x) => x >= r.firstPlain)).toBe(true);
        expect(r.skippedCount).toBe((latest - r.T) / unit);
      });

      it('run_all: every missed time (the latest 100 at most) runs as a catch-up, one after another in time order', async () => {
        const r = await afterOutage(cron, unit, 'run_all');
        const last = r.firstPlain - unit;
        const planned = r.catchUpJobs.map((c) => c.at);
        // Created in time order, one by one (each in the claim of the previous one).
        expect(planned).toEqual([...planned].sort((a, b) => a - b));
        if (unit === MINUTE) {
          // Three or four missed minutes, all run, the claimed one first.
          expect(r.claimed).toMatchObject({ catch_up: true, outcomes: ['succeeded'] });
          expect(planned).toEqual(times(r.T, last, unit));
          expect(r.skippedCount).toBe(0);
        } else {
          // 150 missed seconds: the oldest beyond the latest 100 are skipped and counted.
          expect(r.claimed.outcomes).toEqual(['skipped']);
          expect(await r.reason()).toBe(
            'skipped: missed; misfire run_all runs only the latest 100 missed times',
          );
          const latestAtFirstClaim = Math.floor(r.catchUpJobs[0]!.dueAt / unit) * unit;
          expect(planned).toEqual(times(latestAtFirstClaim - 99 * unit, last, unit));
          expect(r.skippedCount).toBe((planned[0]! - r.T) / unit);
        }
        expect(r.between.every((b) => b.catch_up && b.outcomes.join() === 'succeeded')).toBe(true);
        // The target saw them in time order, each once.
        expect(r.caughtUp).toEqual(planned);
        expect(r.plainRequests.every((x) => x >= r.firstPlain)).toBe(true);
      });
    });
  }

  it('run_all with overlap skip: catch-ups are not skipped while an earlier one still runs', async () => {
    // Every catch-up is claimed while the ones before it wait for their answer (held).
    const r = await afterOutage('* * * * *', MINUTE, 'run_all', { overlap: 'skip', holdAnswers: true });
    expect(r.catchUpJobs.map((c) => c.at)).toEqual(times(r.T, r.firstPlain - MINUTE, MINUTE));
    expect([r.claimed, ...r.between].map((b) => b.outcomes)).toEqual(r.catchUpJobs.map(() => ['succeeded']));
    expect(r.skippedCount).toBe(0);
  });
});
