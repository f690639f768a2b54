// End to end: jobs created through the API fire on time at a local receiver, signed with the secret
// the API hands out (and, after rotation, with both old and new).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { createTestApp, sessionFor, type TestApp } from '../helpers/app.ts';
import { startServer, type TestServer } from '../helpers/http.ts';
import { startScheduler, type TestScheduler } from '../helpers/scheduler.ts';
import { verifyWebhook } from '../../src/webhooks/signing.ts';

let db: TestDb;
let t: TestApp;
let receiver: TestServer;
let sched: TestScheduler;
let auth: string;
const arrivals = new Map<string, number>(); // job id → Date.now() at arrival

beforeAll(async () => {
  db = await createTestDb();
  t = await createTestApp(db);
  receiver = await startServer((req, res) => {
    arrivals.set(String(req.headers['webhook-id']), Date.now());
    res.writeHead(204).end();
  });
  // Idle poll of 5 s: anything faster than that proves the timer/NOTIFY path.
  sched = await startScheduler(db, { pollIntervalMs: 5000 });
  auth = (await sessionFor(db, t.config, 'e2e@example.com')).auth;
});
afterAll(async () => {
  await sched.stop(0);
  await receiver.close();
  await t.close();
  await db.drop();
});

const create = async (body: Record<string, unknown>) => {
  const res = await request(t.app)
    .post('/v1/jobs')
    .set('Authorization', auth)
    .send({ request: { method: 'POST', url: `${receiver.url}/hook`, body: '{"n":1}' }, ...body });
  expect(res.status).toBe(201);
  return res.body as { id: string; fire_at: string };
};

describe('API → scheduler → receiver', () => {
  it('a job due now fires at once (NOTIFY), not at the next poll', async () => {
    const job = await create({});
    // Recorded after the receiver answered: the arrival is known by then.
    await sched.finished(job.id, ['succeeded'], 4000);
    expect(arrivals.get(job.id)! - Date.parse(job.fire_at)).toBeLessThan(1000);
  });

  it('jobs due in the near future fire at their time (the timer), in order', async () => {
    const jobs: { id: string; fire_at: string }[] = [];
    for (const ms of [1500, 800, 1200])
      jobs.push(await create({ fire_at: new Date(Date.now() + ms).toISOString() }));
    await Promise.all(jobs.map((j) => sched.finished(j.id, ['succeeded'], 6000)));
    for (const j of jobs) {
      const late = arrivals.get(j.id)! - Date.parse(j.fire_at);
      // Never early beyond clock granularity, and far sooner than the 5 s poll would allow.
      expect(late).toBeGreaterThanOrEqual(-5);
      expect(late).toBeLessThan(500);
    }
    const order = [...jobs].sort((a, b) => arrivals.get(a.id)! - arrivals.get(b.id)!).map((j) => j.fire_at);
    expect(order).toEqual([...order].sort());
    // A sample is observed when the scheduler has the response, before its result is written: one
    // for each of the four jobs so far, every one of them recorded.
    const samples = (await sched.metrics.fireLateness.get()).values.find((v) =>
      v.metricName?.endsWith('_count'),
    )!.value;
    expect(samples).toBeGreaterThanOrEqual(4);
  });

  it('the receiver verifies signatures with the secret from the API, across a rotation', async () => {
    const { body: s1 } = await request(t.app).get('/v1/signing-secret').set('Authorization', auth);
    expect(s1.secret).toMatch(/^whsec_/);
    expect(s1.previous_secret).toBeNull();
    const job = await create({});
    await sched.finished(job.id, ['succeeded']);
    const r1 = receiver.requests.find((r) => r.headers['webhook-id'] === job.id)!;
    const h = (r: typeof r1) => ({
      id: String(r.headers['webhook-id']),
      timestamp: String(r.headers['webhook-timestamp']),
      signature: String(r.headers['webhook-signature']),
    });
    expect(verifyWebhook(s1.secret, h(r1), r1.body, Math.floor(Date.now() / 1000))).toBe(true);

    const { body: s2 } = await request(t.app).post('/v1/signing-secret/rotate').set('Authorization', auth);
    expect(s2.secret).not.toBe(s1.secret);
    expect(s2.previous_secret).toBe(s1.secret);
    expect(Date.parse(s2.previous_valid_until) - Date.now()).toBeGreaterThan(23 * 3600 * 1000);
    const job2 = await create({});
    await sched.finished(job2.id, ['succeeded']);
    const r2 = receiver.requests.find((r) => r.headers['webhook-id'] === job2.id)!;
    expect(verifyWebhook(s2.secret, h(r2), r2.body, Math.floor(Date.now() / 1000))).toBe(true);
    expect(verifyWebhook(s1.secret, h(r2), r2.body, Math.floor(Date.now() / 1000))).toBe(true);
    // The database holds versions, not secrets: a dump reveals nothing usable.
    const { rows } = await db.pool.query(`SELECT row_to_json(u)::text AS j FROM users u`);
    for (const r of rows) expect(r.j).not.toContain(s2.secret.slice(6, 20));
  });

  it('the job and its executions read back through the API', async () => {
    const job = await create({});
    await sched.finished(job.id, ['succeeded']);
    const got = await request(t.app).get(`/v1/jobs/${job.id}`).set('Authorization', auth);
    expect(got.body).toMatchObject({
      status: 'succeeded',
      attempts: 1,
      next_attempt_at: null,
      last_execution: { attempt: 1, outcome: 'succeeded', status_code: 204 },
    });
    const ex = await request(t.app).get(`/v1/jobs/${job.id}/executions`).set('Authorization', auth);
    expect(ex.body.data).toHaveLength(1);
    expect(ex.body.data[0].duration_ms).toBeGreaterThanOrEqual(0);
  });
});
