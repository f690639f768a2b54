// Rounds of attempts (#29.4): a re-drive starts the job's next round, attempts count from 1 in each,
// and executions are listed (and last_execution chosen) in the order they happened: round, attempt.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { createTestApp, sessionFor, type TestApp } from '../helpers/app.ts';
import { targets } from '../helpers/http.ts';
import { startScheduler, type TestScheduler } from '../helpers/scheduler.ts';
import { decodeExecutionCursor, encodeExecutionCursor } from '../../src/jobs/representation.ts';

let db: TestDb;
let t: TestApp;
let alice: Awaited<ReturnType<typeof sessionFor>>;
let sched: TestScheduler | null = null;
const { target, closeAll } = targets();

beforeAll(async () => {
  db = await createTestDb();
  t = await createTestApp(db);
  alice = await sessionFor(db, t.config, 'alice@example.com');
});
afterEach(async () => {
  await sched?.stop(0);
  sched = null;
  await closeAll();
});
afterAll(async () => {
  await t.close();
  await db.drop();
});

const get = (path: string) => request(t.app).get(path).set('Authorization', alice.auth);
const post = (path: string, body?: object) =>
  request(t.app).post(path).set('Authorization', alice.auth).send(body);

describe('a job re-driven after failing', () => {
  it('fails 3 times, is re-driven, succeeds: attempts in the order they happened, last_execution the success', async () => {
    const tgt = await target((_q, res, _b, n) => {
      if (n <= 3) res.writeHead(500).end(`down ${n}`);
      else res.writeHead(200).end('fine');
    });
    sched = await startScheduler(db, { random: () => 0.5 });
    const created = await post('/v1/jobs', {
      request: { method: 'POST', url: `${tgt.url}/hook`, body: '{}' },
      retry: { strategy: 'linear', max_attempts: 3, base_delay_ms: 10, max_delay_ms: 10 },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ attempts: 0, round: 1 });
    const id = created.body.id as string;
    await sched.finished(id, ['failed']);

    const redriven = await post(`/v1/jobs/${id}/retry`);
    expect(redriven.status).toBe(200);
    expect(redriven.body).toMatchObject({ status: 'scheduled', attempts: 0, round: 2 });
    await sched.finished(id, ['succeeded']);

    const ex = await get(`/v1/jobs/${id}/executions`);
    expect(ex.status).toBe(200);
    expect(
      ex.body.data.map((e: { round: number; attempt: number; outcome: string; status_code: number }) => [
        e.round,
        e.attempt,
        e.outcome,
        e.status_code,
      ]),
    ).toEqual([
      [1, 1, 'failed', 500],
      [1, 2, 'failed', 500],
      [1, 3, 'failed', 500],
      [2, 1, 'succeeded', 200],
    ]);

    const job = await get(`/v1/jobs/${id}`);
    expect(job.body).toMatchObject({ status: 'succeeded', attempts: 1, round: 2 });
    expect(job.body.last_execution).toMatchObject({
      round: 2,
      attempt: 1,
      outcome: 'succeeded',
      status_code: 200,
    });
    // The list answers the same summary (the console's "succeeded (last 200)").
    const listed = await get('/v1/jobs');
    const row = listed.body.data.find((j: { id: string }) => j.id === id);
    expect(row.last_execution).toEqual(job.body.last_execution);
  });
});

describe('GET /v1/jobs/{id}/executions across rounds', () => {
  it('pages with limit and cursor in (round, attempt) order; an e1 cursor reads as round 1', async () => {
    const created = await post('/v1/jobs', {
      request: { method: 'POST', url: 'http://127.0.0.1:9/never' },
      delay_seconds: 3600,
    });
    const id = created.body.id as string;
    // Written out of order on purpose: ids say write order, (round, attempt) the order of events.
    await db.pool.query(
      `INSERT INTO job_executions (job_id, round, attempt, outcome)
       SELECT $1, r, a, 'failed' FROM unnest(ARRAY[2, 1, 1, 3, 2, 1, 1], ARRAY[1, 2, 1, 1, 2, 3, 1]) AS t(r, a)`,
      [id],
    );
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: request.Response = await get(
        `/v1/jobs/${id}/executions?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(res.status).toBe(200);
      seen.push(...res.body.data.map((e: { round: number; attempt: number }) => `${e.round}.${e.attempt}`));
      cursor = res.body.next_cursor as string | null;
      pages++;
    } while (cursor);
    expect(seen).toEqual(['1.1', '1.1', '1.2', '1.3', '2.1', '2.2', '3.1']);
    expect(pages).toBe(4);

    // A cursor from before rounds ("e1:<attempt>:<id>") continues within round 1.
    const { rows } = await db.pool.query<{ id: string }>(
      `SELECT id FROM job_executions WHERE job_id = $1 AND round = 1 AND attempt = 2`,
      [id],
    );
    const old = Buffer.from(`e1:2:${rows[0]!.id}`).toString('base64url');
    const rest = await get(`/v1/jobs/${id}/executions?cursor=${old}`);
    expect(rest.body.data.map((e: { round: number; attempt: number }) => `${e.round}.${e.attempt}`)).toEqual([
      '1.3',
      '2.1',
      '2.2',
      '3.1',
    ]);
  });

  it('cursors round-trip and refuse what is not one of ours', () => {
    const c = encodeExecutionCursor({ round: 3, attempt: 25, id: 9_007_199_254_740_991 });
    expect(decodeExecutionCursor(c)).toEqual({ round: 3, attempt: 25, id: 9_007_199_254_740_991 });
    for (const bad of ['e2:0:1:1', 'e2:1:0:1', 'e2:1:1:0', 'e2:1:1', 'e1:1', 'v1:12', 'e2:1:1:1:1']) {
      expect(decodeExecutionCursor(Buffer.from(bad).toString('base64url')), bad).toBeNull();
    }
  });
});
