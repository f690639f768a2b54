// Concurrent single creates share one INSERT (src/lib/coalescer.ts): each request still gets its own
// answer — its own job, its own idempotent replay, its own error — and nothing of one leaks into or
// fails another. The flushes are held on a table lock, so which requests share a statement is
// decided by the test, not by timing.
import request from 'supertest';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { anotherApi, createTestApp, sessionFor, type TestApp } from '../helpers/app.ts';
import { waitFor } from '../helpers/http.ts';

let db: TestDb;
let t: TestApp;
let api: ReturnType<typeof anotherApi>;

const job = (name: string) => ({
  name,
  request: { method: 'POST', url: 'https://example.com/hook', body: `{"n":"${name}"}` },
  delay_seconds: 3600,
});

beforeAll(async () => {
  db = await createTestDb();
  t = await createTestApp(db, { TARGET_ALLOWLIST: '' });
  api = anotherApi(db, t);
  // A rule the API's validation does not know, standing in for any row the database refuses.
  await db.pool.query(
    `ALTER TABLE jobs ADD CONSTRAINT test_no_poison CHECK (name IS DISTINCT FROM 'poison')`,
  );
});
afterAll(async () => {
  await t.close();
  await db.drop();
});

/** Inserts into jobs wait on a table lock held by `hold`'s transaction until it ends. */
async function holdInserts() {
  const hold = new pg.Client({ connectionString: db.url });
  await hold.connect();
  await hold.query('BEGIN');
  await hold.query('LOCK TABLE jobs IN SHARE ROW EXCLUSIVE MODE');
  return {
    blocked: async () =>
      (
        await db.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO jobs%'`,
        )
      ).rows[0]!.n,
    release: async () => {
      await hold.query('COMMIT');
      await hold.end();
    },
  };
}

type Auth = { auth: string };
const post = (auth: Auth, body: unknown, key?: string, app = api.app) => {
  const r = request(app)
    .post('/v1/jobs')
    .set('Authorization', auth.auth)
    .send(body as object);
  return (key ? r.set('Idempotency-Key', key) : r).then((res) => res);
};

/**
 * Sends `first` and waits until both are inserts blocked on the lock (both flushes in flight), then
 * sends `later` and waits until they all wait in the coalescer; then releases the lock.
 */
async function inOneFlush(
  first: (() => Promise<request.Response>)[],
  later: (() => Promise<request.Response>)[],
) {
  const lock = await holdInserts();
  // One at a time: two sent together could share a flush.
  const a: Promise<request.Response>[] = [];
  for (const f of first) {
    a.push(f());
    await waitFor(async () => (await lock.blocked()) === a.length, 'an insert waiting on the lock');
  }
  const b = later.map((f) => f());
  await waitFor(() => api.services.jobs.waitingCreates === later.length, 'the rest queued');
  await lock.release();
  return { first: await Promise.all(a), later: await Promise.all(b) };
}

const txOf = async (names: string[]) =>
  (
    await db.pool.query<{ name: string; tx: string }>(
      `SELECT name, xmin::text AS tx FROM jobs WHERE name = ANY($1) ORDER BY seq`,
      [names],
    )
  ).rows;

describe('concurrent single creates share one INSERT', () => {
  it('each request gets its own job or its own replay, across users, from one statement', async () => {
    const alice = await sessionFor(db, t.config);
    const bob = await sessionFor(db, t.config);
    const { first, later } = await inOneFlush(
      [() => post(alice, job('a0')), () => post(bob, job('b0'))],
      [
        () => post(alice, job('a1')),
        () => post(bob, job('b1')),
        () => post(alice, job('k'), 'same-key'),
        () => post(alice, job('k'), 'same-key'),
        () => post(bob, job('k'), 'same-key'), // another user's key space
        () => post(alice, job('a2')),
      ],
    );
    const [a1, b1, k1, k2, kBob, a2] = later;
    for (const [res, name, owner] of [
      [first[0], 'a0', alice],
      [first[1], 'b0', bob],
      [a1, 'a1', alice],
      [b1, 'b1', bob],
      [kBob, 'k', bob],
      [a2, 'a2', alice],
    ] as const) {
      expect(res!.status, name).toBe(201);
      expect(res!.body).toMatchObject({ name, status: 'scheduled' });
      // The answer is the job exactly as its owner reads it, and nobody else can.
      const got = await request(api.app).get(`/v1/jobs/${res!.body.id}`).set('Authorization', owner.auth);
      expect(got.body).toEqual(res!.body);
      const other = owner === alice ? bob : alice;
      expect(
        (await request(api.app).get(`/v1/jobs/${res!.body.id}`).set('Authorization', other.auth)).status,
      ).toBe(404);
    }
    // Two identical keyed requests in one statement: one creates, the other replays that job.
    expect([k1!.status, k2!.status].sort()).toEqual([200, 201]);
    expect(k1!.body.id).toBe(k2!.body.id);
    expect(kBob!.body.id).not.toBe(k1!.body.id);

    const rows = await txOf(['a0', 'b0', 'a1', 'b1', 'k', 'a2']);
    expect(rows.map((r) => r.name).sort()).toEqual(['a0', 'a1', 'a2', 'b0', 'b1', 'k', 'k']);
    const later5 = rows.filter((r) => !['a0', 'b0'].includes(r.name));
    expect(new Set(later5.map((r) => r.tx)).size).toBe(1);
    expect(new Set(rows.map((r) => r.tx)).size).toBe(3);
  });

  it("a row the database refuses fails alone, with the answer a single insert gives; others' jobs are written", async () => {
    const alice = await sessionFor(db, t.config);
    const mallory = await sessionFor(db, t.config);
    const names = Array.from({ length: 9 }, (_, i) => `p${i}`);
    const senders = names.map((n, i) => () => post(i % 2 ? mallory : alice, job(n)));
    senders.splice(5, 0, () => post(mallory, job('poison')));
    const { later } = await inOneFlush(
      [() => post(alice, job('p-first0')), () => post(alice, job('p-first1'))],
      senders,
    );
    const poison = later.splice(5, 1)[0]!;
    expect(poison.status).toBe(400);
    expect(poison.body.error.code).toBe('validation_failed');
    expect(later.map((r) => r.status)).toEqual(Array(9).fill(201));
    expect(later.map((r) => r.body.name)).toEqual(names);
    expect((await txOf([...names, 'poison'])).map((r) => r.name).sort()).toEqual(names);
  });

  it('a flush failing for a reason no row causes fails its requests with that answer, and the next flush works', async () => {
    const alice = await sessionFor(db, t.config);
    // The insert waiting on the lock is cancelled, as a statement timeout would cancel it.
    const slow = await holdInserts();
    const pending = post(alice, job('cancelled'));
    await waitFor(async () => (await slow.blocked()) === 1, 'the insert waiting on the lock');
    const waitingPid = (
      await db.pool.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
            AND query LIKE '%INSERT INTO jobs%'`,
      )
    ).rows[0]!.pid;
    await db.pool.query('SELECT pg_cancel_backend($1)', [waitingPid]);
    const res = await pending;
    expect(res.status).toBe(500);
    expect(res.body.error.code).toBe('internal_error');
    await slow.release();
    const after = await post(alice, job('after'));
    expect(after.status).toBe(201);
    expect((await txOf(['cancelled', 'after'])).map((r) => r.name)).toEqual(['after']);
  });

  it('with JOB_CREATE_MAX_WAITING creates waiting, the next is answered 503 at once, with Retry-After', async () => {
    const small = anotherApi(db, t, { config: { JOB_CREATE_MAX_WAITING: 2 } });
    const alice = await sessionFor(db, t.config);
    const send = (name: string) => post(alice, job(name), undefined, small.app);
    const lock = await holdInserts();
    const inFlight: Promise<request.Response>[] = [];
    for (const n of ['q0', 'q1']) {
      inFlight.push(send(n));
      await waitFor(async () => (await lock.blocked()) === inFlight.length, 'an insert waiting on the lock');
    }
    const queued = [send('q2'), send('q3')];
    await waitFor(() => small.services.jobs.waitingCreates === 2, 'two creates queued');
    // Operators see the queue: the gauge reads it at scrape time (on METRICS_PORT, not the API port).
    const scraped = await request(small.metricsApp).get('/metrics');
    expect(scraped.text).toMatch(/^djs_job_creates_waiting 2$/m);
    const refused = await send('q4');
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('service_unavailable');
    expect(refused.headers['retry-after']).toBe('1');
    await lock.release();
    expect((await Promise.all([...inFlight, ...queued])).map((r) => r.status)).toEqual([201, 201, 201, 201]);
    expect((await txOf(['q0', 'q1', 'q2', 'q3', 'q4'])).map((r) => r.name).sort()).toEqual([
      'q0',
      'q1',
      'q2',
      'q3',
    ]);
  });

  it("a user with JOB_CREATE_MAX_WAITING_PER_USER creates waiting gets 429; another user's create still passes", async () => {
    const small = anotherApi(db, t, { config: { JOB_CREATE_MAX_WAITING_PER_USER: 2 } });
    const flood = await sessionFor(db, t.config);
    const calm = await sessionFor(db, t.config);
    const send = (who: Auth, name: string) => post(who, job(name), undefined, small.app);
    const lock = await holdInserts();
    const inFlight: Promise<request.Response>[] = [];
    for (const n of ['f0', 'f1']) {
      inFlight.push(send(flood, n));
      await waitFor(async () => (await lock.blocked()) === inFlight.length, 'an insert waiting on the lock');
    }
    const queued = [send(flood, 'f2'), send(flood, 'f3')];
    await waitFor(() => small.services.jobs.waitingCreates === 2, 'two creates queued');
    const refused = await send(flood, 'f4');
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('rate_limited');
    expect(refused.headers['retry-after']).toBe('1');
    const passing = send(calm, 'c0');
    await waitFor(() => small.services.jobs.waitingCreates === 3, 'the other user queued');
    await lock.release();
    expect((await Promise.all([...inFlight, ...queued, passing])).map((r) => r.status)).toEqual(
      Array(5).fill(201),
    );
    expect((await txOf(['f0', 'f1', 'f2', 'f3', 'f4', 'c0'])).map((r) => r.name).sort()).toEqual([
      'c0',
      'f0',
      'f1',
      'f2',
      'f3',
    ]);
  });
});
