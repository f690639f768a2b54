// What README promises about instants and idempotency keys, through the API: RFC 3339 ranges are
// enforced (no +24:00, no hour 24), digits beyond the millisecond round up and the answer says so,
// and a key is remembered exactly as long as the job it created is kept.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { createTestApp, sessionFor, type TestApp } from '../helpers/app.ts';
import { forceJobState } from '../helpers/scheduler.ts';
import { Cleaner, DEFAULT_CLEANER_OPTIONS } from '../../src/scheduler/cleaner.ts';
import { SchedulerEvents } from '../../src/scheduler/events.ts';
import { silentLogger } from '../../src/logger.ts';

let db: TestDb;
let t: TestApp;
let auth: string;

// A day 30 days ahead, so the suite does not rot as the calendar moves on.
const DAY = 86_400_000;
const date = new Date(Math.floor(Date.now() / DAY) * DAY + 30 * DAY).toISOString().slice(0, 10);

const job = (over: Record<string, unknown> = {}) => ({
  request: { method: 'POST', url: 'https://example.com/hook' },
  fire_at: `${date}T09:00:00Z`,
  ...over,
});
const post = (body: unknown, key?: string) => {
  const r = request(t.app).post('/v1/jobs').set('Authorization', auth);
  return (key ? r.set('Idempotency-Key', key) : r).send(body as object);
};

beforeAll(async () => {
  db = await createTestDb();
  t = await createTestApp(db, { TARGET_ALLOWLIST: '' });
  auth = (await sessionFor(db, t.config)).auth;
});
afterAll(async () => {
  await t.close();
  await db.drop();
});

describe('instants', () => {
  it('an offset beyond ±23:59 or an hour of 24 is refused, not moved to another day', async () => {
    for (const fire_at of [
      `${date}T09:00:00+24:00`,
      `${date}T09:00:00-24:00`,
      `${date}T09:00:00+23:60`,
      `${date}T24:00:00Z`,
    ]) {
      const res = await post(job({ fire_at }));
      expect(res.status, fire_at).toBe(400);
      expect(res.body.error.details).toEqual([expect.objectContaining({ path: 'fire_at' })]);
    }
    const schedule = await request(t.app)
      .post('/v1/schedules')
      .set('Authorization', auth)
      .send({
        cron: '0 9 * * *',
        request: { method: 'POST', url: 'https://example.com/hook' },
        start_at: `${date}T00:00:00+24:00`,
      });
    expect(schedule.status).toBe(400);
    expect(schedule.body.error.details).toEqual([expect.objectContaining({ path: 'start_at' })]);
    const list = await request(t.app)
      .get(`/v1/jobs?fire_at_from=${encodeURIComponent(`${date}T00:00:00+24:00`)}`)
      .set('Authorization', auth);
    expect(list.status).toBe(400);

    const edge = await post(job({ fire_at: `${date}T09:00:00+23:59` }));
    expect(edge.status).toBe(201);
  });

  it('digits beyond the millisecond round up: stored and answered as the next millisecond, filters agree', async () => {
    const res = await post(job({ name: 'micro', fire_at: `${date}T09:00:00.123456+01:00` }));
    expect(res.status).toBe(201);
    expect(res.body.fire_at).toBe(`${date}T08:00:00.124Z`);
    const { rows } = await db.pool.query<{ us: string }>(
      `SELECT to_char(fire_at AT TIME ZONE 'UTC', 'HH24:MI:SS.US') AS us FROM jobs WHERE id = $1`,
      [res.body.id],
    );
    expect(rows[0]!.us).toBe('08:00:00.124000');

    // Bounds with the same extra digits select what the full instant would: 08:00:00.123456 is
    // before the job's time, so `from` includes it and `to` excludes it.
    const names = async (query: string) =>
      (
        (await request(t.app).get(`/v1/jobs?name=micro&${query}`).set('Authorization', auth)).body.data as {
          name: string;
        }[]
      ).map((j) => j.name);
    const bound = encodeURIComponent(`${date}T08:00:00.1234561Z`);
    expect(await names(`fire_at_from=${bound}`)).toEqual(['micro']);
    expect(await names(`fire_at_to=${bound}`)).toEqual([]);
  });
});

describe('Idempotency-Key', () => {
  it('is remembered while its job is kept, finished or not; once retention deleted the job, the key creates a new one', async () => {
    const body = job({ name: 'keyed' });
    const first = await post(body, 'key-retention');
    expect(first.status).toBe(201);

    await forceJobState(db, first.body.id, 'succeeded', { finishedAgo: '6 days' });
    const replay = await post(body, 'key-retention');
    expect(replay.status).toBe(200);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toMatchObject({ id: first.body.id, status: 'succeeded' });
    expect((await post(job({ name: 'other' }), 'key-retention')).status).toBe(409);

    await db.pool.query(`UPDATE jobs SET completed_at = now() - interval '8 days' WHERE id = $1`, [
      first.body.id,
    ]);
    const cleaner = new Cleaner(
      { pool: db.pool, log: silentLogger, events: new SchedulerEvents() },
      { ...DEFAULT_CLEANER_OPTIONS, random: () => 0 },
    );
    expect(await cleaner.runOnce()).toMatchObject({ succeeded: 1 });

    const again = await post(body, 'key-retention');
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(first.body.id);
  });
});
