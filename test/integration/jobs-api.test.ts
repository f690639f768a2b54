import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import fc from 'fast-check';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { createTestApp, sessionFor, type TestApp } from '../helpers/app.ts';
import { forceJobState } from '../helpers/scheduler.ts';

let db: TestDb;
let t: TestApp;
let alice: Awaited<ReturnType<typeof sessionFor>>;
let bob: Awaited<ReturnType<typeof sessionFor>>;

// Dates relative to today, so the suite does not rot as the calendar moves past a fixed date.
const DAY = 86_400_000;
const base = new Date(Math.floor(Date.now() / DAY) * DAY + 30 * DAY); // midnight UTC, 30 days ahead
const day = (n: number) => new Date(base.getTime() + n * DAY).toISOString().replace('.000Z', 'Z');
const FIRE_LOCAL = `${day(0).slice(0, 10)}T09:00:00+01:00`;
const FIRE_UTC = `${day(0).slice(0, 10)}T08:00:00.000Z`;

const validJob = (over: Record<string, unknown> = {}) => ({
  name: 'nightly-report',
  request: {
    method: 'POST',
    url: 'https://example.com/hook',
    headers: { 'content-type': 'application/json' },
    body: '{"hello":"world"}',
  },
  fire_at: FIRE_LOCAL,
  ...over,
});

const jobCount = async () => (await db.pool.query('SELECT count(*)::int AS n FROM jobs')).rows[0].n as number;
const post = (auth: string, body: unknown) =>
  request(t.app)
    .post('/v1/jobs')
    .set('Authorization', auth)
    .send(body as object);

beforeAll(async () => {
  db = await createTestDb();
  t = await createTestApp(db, { JOB_MAX_ACTIVE_PER_USER: '1000', TARGET_ALLOWLIST: '' });
  alice = await sessionFor(db, t.config, 'alice@example.com');
  bob = await sessionFor(db, t.config, 'bob@example.com');
});
afterAll(async () => {
  await t.close();
  await db.drop();
});

describe('POST /v1/jobs', () => {
  it('creates a job: 201, Location, UTC times, defaults filled in', async () => {
    const res = await post(alice.auth, validJob());
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`/v1/jobs/${res.body.id}`);
    expect(res.body).toMatchObject({
      name: 'nightly-report',
      status: 'scheduled',
      request: {
        method: 'POST',
        url: 'https://example.com/hook',
        headers: { 'content-type': 'application/json' },
        body: '{"hello":"world"}',
      },
      fire_at: FIRE_UTC,
      next_attempt_at: FIRE_UTC,
      timeout_ms: 10000,
      retry: { strategy: 'exponential', max_attempts: 5, base_delay_ms: 1000, max_delay_ms: 3600000 },
      attempts: 0,
      completed_at: null,
      last_execution: null,
    });
    expect(res.body.created_at).toMatch(/Z$/);
  });

  it('delay_seconds and "neither" are computed on the database clock', async () => {
    const { rows } = await db.pool.query(`SELECT now() AS now`);
    const dbNow = new Date(rows[0].now).getTime();
    const delayed = await post(alice.auth, validJob({ fire_at: undefined, delay_seconds: 30 }));
    expect(delayed.status).toBe(201);
    const fire = Date.parse(delayed.body.fire_at);
    expect(fire - dbNow).toBeGreaterThanOrEqual(29_000);
    expect(fire - dbNow).toBeLessThan(40_000);
    const now = await post(alice.auth, validJob({ fire_at: undefined }));
    expect(Math.abs(Date.parse(now.body.fire_at) - dbNow)).toBeLessThan(10_000);
  });

  it('a time in the past is accepted and due at once', async () => {
    const res = await post(alice.auth, validJob({ fire_at: '2020-01-01T00:00:00Z' }));
    expect(res.status).toBe(201);
    expect(res.body.fire_at).toBe('2020-01-01T00:00:00.000Z');
  });

  const invalid: [string, unknown, RegExp][] = [
    ['unknown top-level field', validJob({ priority: 1 }), /priority|Unrecognized/i],
    [
      'unknown request field',
      validJob({ request: { method: 'POST', url: 'https://example.com', extra: 1 } }),
      /request/,
    ],
    ['bad method', validJob({ request: { method: 'TRACE', url: 'https://example.com' } }), /request.method/],
    [
      'GET with body',
      validJob({ request: { method: 'GET', url: 'https://example.com', body: 'x' } }),
      /request.body/,
    ],
    ['private URL', validJob({ request: { method: 'GET', url: 'http://10.0.0.1/' } }), /request.url/],
    ['loopback URL', validJob({ request: { method: 'GET', url: 'http://127.0.0.1:9/' } }), /request.url/],
    ['metadata URL', validJob({ request: { method: 'GET', url: 'http://169.254.169.254/' } }), /request.url/],
    [
      'userinfo URL',
      validJob({ request: { method: 'GET', url: 'https://u:p@example.com/' } }),
      /request.url/,
    ],
    [
      'forbidden header',
      validJob({ request: { method: 'GET', url: 'https://example.com', headers: { Host: 'x' } } }),
      /request.headers/,
    ],
    [
      'signature header',
      validJob({
        request: { method: 'GET', url: 'https://example.com', headers: { 'webhook-signature': 'x' } },
      }),
      /request.headers/,
    ],
    [
      'CRLF in header value',
      validJob({ request: { method: 'GET', url: 'https://example.com', headers: { 'x-a': 'a\r\nx-b: c' } } }),
      /request.headers/,
    ],
    [
      'bad header name',
      validJob({ request: { method: 'GET', url: 'https://example.com', headers: { 'bad name': 'x' } } }),
      /request.headers/,
    ],
    [
      'too many headers',
      validJob({
        request: {
          method: 'GET',
          url: 'https://example.com',
          headers: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`x-h${i}`, 'v'])),
        },
      }),
      /request.headers/,
    ],
    ['fire_at without offset', validJob({ fire_at: FIRE_LOCAL.slice(0, 19) }), /fire_at/],
    ['unparseable fire_at', validJob({ fire_at: 'next tuesday' }), /fire_at/],
    [
      'fire_at too far ahead',
      validJob({ fire_at: new Date(Date.now() + 366 * DAY).toISOString() }),
      /fire_at/,
    ],
    ['fire_at and delay_seconds', validJob({ delay_seconds: 5 }), /delay_seconds/],
    ['negative delay', validJob({ fire_at: undefined, delay_seconds: -1 }), /delay_seconds/],
    ['timeout too small', validJob({ timeout_ms: 999 }), /timeout_ms/],
    ['timeout too large', validJob({ timeout_ms: 120001 }), /timeout_ms/],
    ['max_attempts 0', validJob({ retry: { strategy: 'linear', max_attempts: 0 } }), /retry.max_attempts/],
    ['max_attempts 26', validJob({ retry: { strategy: 'linear', max_attempts: 26 } }), /retry.max_attempts/],
    [
      'base over max delay',
      validJob({ retry: { strategy: 'linear', base_delay_ms: 5000, max_delay_ms: 1000 } }),
      /retry.max_delay_ms/,
    ],
    ['bad strategy', validJob({ retry: { strategy: 'fibonacci' } }), /retry.strategy/],
    ['name too long', validJob({ name: 'x'.repeat(201) }), /name/],
    [
      'body as object',
      validJob({ request: { method: 'POST', url: 'https://example.com', body: { a: 1 } } }),
      /request.body/,
    ],
    ['array instead of object', [], /body|expected/],
  ];
  it.each(invalid)('%s → 400 validation_failed with details, nothing written', async (_n, body, path) => {
    const before = await jobCount();
    const res = await post(alice.auth, body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(JSON.stringify(res.body.error.details)).toMatch(path);
    for (const d of res.body.error.details)
      expect(d).toEqual({ path: expect.any(String), message: expect.any(String) });
    expect(await jobCount()).toBe(before);
  });

  it('body over the limit → 400; whole request over the limit → 413', async () => {
    const big = 'x'.repeat(256 * 1024 + 1);
    const r1 = await post(
      alice.auth,
      validJob({ request: { method: 'POST', url: 'https://example.com', body: big } }),
    );
    expect(r1.status).toBe(400);
    const huge = 'x'.repeat(400 * 1024);
    const r2 = await post(
      alice.auth,
      validJob({ request: { method: 'POST', url: 'https://example.com', body: huge } }),
    );
    expect(r2.status).toBe(413);
    expect(r2.body.error.code).toBe('payload_too_large');
  });

  it('wrong content type → 415, malformed JSON → 400, no session → 401', async () => {
    const r1 = await request(t.app)
      .post('/v1/jobs')
      .set('Authorization', alice.auth)
      .type('text')
      .send('hello');
    expect(r1.status).toBe(415);
    const r2 = await request(t.app)
      .post('/v1/jobs')
      .set('Authorization', alice.auth)
      .set('Content-Type', 'application/json')
      .send('{"a":');
    expect(r2.status).toBe(400);
    expect(r2.body.error.code).toBe('malformed_json');
    const r3 = await request(t.app).post('/v1/jobs').send(validJob());
    expect(r3.status).toBe(401);
  });

  it('idempotency: same key + same body replays; different body conflicts', async () => {
    const key = 'create-report-1';
    const first = await post(alice.auth, validJob()).set('Idempotency-Key', key);
    expect(first.status).toBe(201);
    const replay = await post(alice.auth, validJob()).set('Idempotency-Key', key);
    expect(replay.status).toBe(200);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body.id).toBe(first.body.id);
    const conflict = await post(alice.auth, validJob({ name: 'other' })).set('Idempotency-Key', key);
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe('idempotency_key_reused');
    // keys are per user
    const bobs = await post(bob.auth, validJob()).set('Idempotency-Key', key);
    expect(bobs.status).toBe(201);
    expect(bobs.body.id).not.toBe(first.body.id);
    const tooLong = await post(alice.auth, validJob()).set('Idempotency-Key', 'k'.repeat(256));
    expect(tooLong.status).toBe(400);
  });

  it('20 concurrent identical requests with one key create exactly one job', async () => {
    const key = 'concurrent-key';
    const results = await Promise.all(
      Array.from({ length: 20 }, () => post(alice.auth, validJob()).set('Idempotency-Key', key)),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(19);
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM jobs WHERE idempotency_key = $1`, [
      key,
    ]);
    expect(rows[0].n).toBe(1);
  });
});

describe('reading jobs', () => {
  it('lists newest first with keyset pagination and filters', async () => {
    const carol = await sessionFor(db, t.config, 'carol@example.com');
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const r = await post(carol.auth, validJob({ name: `job-${i}`, fire_at: day(i) }));
      ids.push(r.body.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: request.Response = await request(t.app)
        .get('/v1/jobs')
        .query({ limit: 3, ...(cursor ? { cursor } : {}) })
        .set('Authorization', carol.auth);
      expect(res.status).toBe(200);
      expect(res.body.data.length).toBeLessThanOrEqual(3);
      seen.push(...res.body.data.map((j: { id: string }) => j.id));
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());

    const ranged = await request(t.app)
      .get('/v1/jobs')
      .query({ fire_at_from: day(1), fire_at_to: day(3) })
      .set('Authorization', carol.auth);
    expect(ranged.body.data.map((j: { name: string }) => j.name)).toEqual(['job-2', 'job-1']);

    await request(t.app).post(`/v1/jobs/${ids[0]}/cancel`).set('Authorization', carol.auth);
    const cancelled = await request(t.app).get('/v1/jobs?status=cancelled').set('Authorization', carol.auth);
    expect(cancelled.body.data.map((j: { id: string }) => j.id)).toEqual([ids[0]]);
    const multi = await request(t.app)
      .get('/v1/jobs?status=cancelled,scheduled&limit=100')
      .set('Authorization', carol.auth);
    expect(multi.body.data).toHaveLength(7);
  });

  it.each([
    ['limit=0'],
    ['limit=101'],
    ['limit=abc'],
    ['status=done'],
    ['cursor=not-a-cursor'],
    [`cursor=${Buffer.from('v1:abc').toString('base64url')}`],
    ['fire_at_from=yesterday'],
    [`fire_at_to=${day(0).slice(0, 19)}`],
    ['unknown=1'],
  ])('GET /v1/jobs?%s → 400', async (qs) => {
    const res = await request(t.app).get(`/v1/jobs?${qs}`).set('Authorization', alice.auth);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
  });

  it('get and executions; malformed ids are 404', async () => {
    const job = (await post(alice.auth, validJob())).body;
    const got = await request(t.app).get(`/v1/jobs/${job.id}`).set('Authorization', alice.auth);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(job);
    await db.pool.query(
      `INSERT INTO job_executions (job_id, attempt, started_at, finished_at, duration_ms, outcome, status_code, response_body)
       VALUES ($1, 2, now(), now(), 5, 'failed', 500, 'oops'), ($1, 1, now() - interval '1 minute', now() - interval '1 minute', 7, 'timeout', NULL, NULL)`,
      [job.id],
    );
    const ex = await request(t.app).get(`/v1/jobs/${job.id}/executions`).set('Authorization', alice.auth);
    expect(ex.status).toBe(200);
    expect(ex.body.data.map((e: { attempt: number }) => e.attempt)).toEqual([1, 2]);
    expect(ex.body.data[1]).toMatchObject({
      outcome: 'failed',
      status_code: 500,
      response_body: 'oops',
      response_truncated: false,
      duration_ms: 5,
    });
    const again = await request(t.app).get(`/v1/jobs/${job.id}`).set('Authorization', alice.auth);
    expect(again.body.last_execution).toMatchObject({ attempt: 2, outcome: 'failed', status_code: 500 });
    for (const bad of [
      'not-a-uuid',
      '123',
      "'; drop table jobs; --",
      '00000000-0000-0000-0000-000000000000',
    ]) {
      const r = await request(t.app)
        .get(`/v1/jobs/${encodeURIComponent(bad)}`)
        .set('Authorization', alice.auth);
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe('not_found');
    }
  });
});

describe('cancel and re-drive', () => {
  it('cancel: live → cancelled, repeat is a no-op, finished → 409', async () => {
    const job = (await post(alice.auth, validJob())).body;
    const c1 = await request(t.app).post(`/v1/jobs/${job.id}/cancel`).set('Authorization', alice.auth);
    expect(c1.status).toBe(200);
    expect(c1.body.status).toBe('cancelled');
    expect(c1.body.completed_at).toMatch(/Z$/);
    const c2 = await request(t.app).post(`/v1/jobs/${job.id}/cancel`).set('Authorization', alice.auth);
    expect(c2.status).toBe(200);
    expect(c2.body.completed_at).toBe(c1.body.completed_at);
    const done = (await post(alice.auth, validJob())).body;
    await forceJobState(db, done.id, 'succeeded');
    const c3 = await request(t.app).post(`/v1/jobs/${done.id}/cancel`).set('Authorization', alice.auth);
    expect(c3.status).toBe(409);
    expect(c3.body.error.code).toBe('job_finished');
  });

  it('re-drive: a failed job restarts its budget and is due now; other states → 409', async () => {
    const job = (await post(alice.auth, validJob({ retry: { max_attempts: 2 } }))).body;
    const r0 = await request(t.app).post(`/v1/jobs/${job.id}/retry`).set('Authorization', alice.auth);
    expect(r0.status).toBe(409);
    expect(r0.body.error.code).toBe('job_not_failed');
    await forceJobState(db, job.id, 'failed', { attempts: 2 });
    const r1 = await request(t.app).post(`/v1/jobs/${job.id}/retry`).set('Authorization', alice.auth);
    expect(r1.status).toBe(200);
    expect(r1.body).toMatchObject({ status: 'scheduled', attempts: 0, completed_at: null });
    expect(Date.parse(r1.body.next_attempt_at)).toBeLessThan(Date.parse(job.fire_at));
  });

  it('the database refuses an illegal transition (terminal states stay terminal)', async () => {
    const job = (await post(alice.auth, validJob())).body;
    await request(t.app).post(`/v1/jobs/${job.id}/cancel`).set('Authorization', alice.auth);
    await expect(
      db.pool.query(`UPDATE jobs SET status = 'scheduled', completed_at = NULL WHERE id = $1`, [job.id]),
    ).rejects.toThrow(/illegal job status transition cancelled -> scheduled/);
  });
});

describe('ownership', () => {
  it("user B can neither see nor touch A's job: 404 like a missing one; lists never show it", async () => {
    const job = (await post(alice.auth, validJob())).body;
    for (const [method, path] of [
      ['get', `/v1/jobs/${job.id}`],
      ['get', `/v1/jobs/${job.id}/executions`],
      ['post', `/v1/jobs/${job.id}/cancel`],
      ['post', `/v1/jobs/${job.id}/retry`],
    ] as const) {
      const res = await request(t.app)[method](path).set('Authorization', bob.auth);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
    const list = await request(t.app).get('/v1/jobs?limit=100').set('Authorization', bob.auth);
    expect(list.body.data.map((j: { id: string }) => j.id)).not.toContain(job.id);
    const still = await request(t.app).get(`/v1/jobs/${job.id}`).set('Authorization', alice.auth);
    expect(still.body.status).toBe('scheduled');
  });
});

describe('quotas', () => {
  /**
   * On a database and app of its own with these limits (the shared ones' counters stay untouched):
   * creates `allowed` jobs, each 201, and returns the answer to one more.
   */
  async function oneOverLimit(env: Record<string, string>, allowed: number) {
    const d = await createTestDb();
    const q = await createTestApp(d, { ...env, TARGET_ALLOWLIST: '' });
    try {
      const s = await sessionFor(d, q.config);
      const create = () => request(q.app).post('/v1/jobs').set('Authorization', s.auth).send(validJob());
      for (let i = 0; i < allowed; i++) expect((await create()).status).toBe(201);
      return await create();
    } finally {
      await q.close();
      await d.drop();
    }
  }

  it('max active jobs per user → 429 quota_exceeded', async () => {
    const res = await oneOverLimit({ JOB_MAX_ACTIVE_PER_USER: '3', JOB_CREATE_RATE_PER_MINUTE: '100' }, 3);
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe('quota_exceeded');
  });

  it('creation rate per user → 429 rate_limited with Retry-After', async () => {
    const res = await oneOverLimit({ JOB_CREATE_RATE_PER_MINUTE: '2' }, 2);
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe('rate_limited');
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  });
});

describe('fuzzing', () => {
  it('random invalid payloads never produce a 5xx and never insert a row', async () => {
    const before = await jobCount();
    const junk = fc.oneof(
      fc.anything(),
      fc.record({ request: fc.anything(), fire_at: fc.string() }, { requiredKeys: [] }),
      fc.record({
        request: fc.record({
          method: fc.string(),
          url: fc.string(),
          headers: fc.dictionary(fc.string(), fc.string()),
        }),
        fire_at: fc.oneof(fc.string(), fc.constant('2020-13-45T99:00:00Z')),
        timeout_ms: fc.oneof(fc.double(), fc.string(), fc.integer()),
      }),
    );
    await fc.assert(
      fc.asyncProperty(junk, async (body) => {
        const res = await request(t.app)
          .post('/v1/jobs')
          .set('Authorization', alice.auth)
          .set('Content-Type', 'application/json')
          .send(JSON.stringify(body) ?? 'null');
        expect(res.status).toBeLessThan(500);
        expect(res.status).not.toBe(201);
      }),
      { numRuns: 300 },
    );
    expect(await jobCount()).toBe(before);
  });
});
