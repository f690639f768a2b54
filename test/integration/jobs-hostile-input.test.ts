// Hostile input is a 400, never a 500 and never stored altered; reads are bounded; re-drive and past
// fire times cannot be used to jump the queue or the quota.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { createTestApp, sessionFor, type TestApp } from '../helpers/app.ts';
import { forceJobState } from '../helpers/scheduler.ts';

let db: TestDb;
let t: TestApp;
let alice: Awaited<ReturnType<typeof sessionFor>>;

const validJob = (over: Record<string, unknown> = {}, req: Record<string, unknown> = {}) => ({
  name: 'hook',
  request: { method: 'POST', url: 'https://example.com/hook', body: '{"a":1}', ...req },
  ...over,
});
const jobCount = async () => (await db.pool.query('SELECT count(*)::int AS n FROM jobs')).rows[0].n as number;
// Raw JSON text, so escapes like \u0000 and lone \ud800 reach the parser exactly as a client sends them.
const postRaw = (app: TestApp['app'], auth: string, json: string) =>
  request(app).post('/v1/jobs').set('Authorization', auth).set('Content-Type', 'application/json').send(json);

beforeAll(async () => {
  db = await createTestDb();
  t = await createTestApp(db, { TARGET_ALLOWLIST: '' });
  alice = await sessionFor(db, t.config);
});
afterAll(async () => {
  await t.close();
  await db.drop();
});

describe('hostile input → 400 validation_failed, nothing stored', () => {
  const base = JSON.stringify(validJob());
  it.each([
    ['NUL in name', base.replace('"hook"', '"ho\\u0000ok"'), 'name'],
    ['control character in name', base.replace('"hook"', '"ho\\u001bok"'), 'name'],
    ['lone surrogate in name', base.replace('"hook"', '"ho\\ud800ok"'), 'name'],
    ['NUL in URL', base.replace('example.com/hook', 'example.com/ho\\u0000ok'), 'request.url'],
    [
      'newline in URL (URL parsing would drop it)',
      base.replace('example.com/hook', 'exam\\nple.com/hook'),
      'request.url',
    ],
    ['tab in URL', base.replace('example.com/hook', 'example.com/\\thook'), 'request.url'],
    ['NUL in body', base.replace('{\\"a\\":1}', 'a\\u0000b'), 'request.body'],
    ['lone surrogate in body', base.replace('{\\"a\\":1}', 'a\\udc00b'), 'request.body'],
    [
      'NUL in a header value',
      JSON.stringify(validJob({}, { headers: { 'x-a': 'PLACEHOLDER' } })).replace('PLACEHOLDER', 'a\\u0000b'),
      'request.headers.x-a',
    ],
    [
      'non-Latin-1 header value',
      JSON.stringify(validJob({}, { headers: { 'x-a': 'snow ☃' } })),
      'request.headers.x-a',
    ],
  ])('%s', async (_name, json, path) => {
    const before = await jobCount();
    const res = await postRaw(t.app, alice.auth, json);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
    expect(await jobCount()).toBe(before);
  });

  it('a body that is not valid UTF-8 is refused, not stored with U+FFFD in place of the bad bytes', async () => {
    const before = await jobCount();
    const json = Buffer.concat([
      Buffer.from('{"name":"a'),
      Buffer.from([0xff]),
      Buffer.from(`b","request":{"method":"POST","url":"https://example.com/"}}`),
    ]);
    for (const path of ['/v1/jobs', '/v1/auth/magic-link']) {
      const res = await request(t.app)
        .post(path)
        .set('Authorization', alice.auth)
        .set('Content-Type', 'application/json')
        // The exact bytes: superagent would otherwise JSON-encode a Buffer.
        .serialize(() => json as unknown as string)
        .send({});
      expect(res.status, path).toBe(400);
      expect(res.body.error.code).toBe('invalid_utf8');
    }
    expect(await jobCount()).toBe(before);
  });

  it('a header named __proto__ is refused, not dropped', async () => {
    const json = JSON.stringify(validJob({}, { headers: { 'x-a': '1' } })).replace('"x-a"', '"__proto__"');
    const res = await postRaw(t.app, alice.auth, json);
    expect(res.status).toBe(400);
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(
      'request.headers.__proto__',
    );
  });

  it('ordinary control characters in a body (newline, tab) and Latin-1 header values are fine', async () => {
    const res = await request(t.app)
      .post('/v1/jobs')
      .set('Authorization', alice.auth)
      .send(validJob({}, { body: 'line1\nline2\tx', headers: { 'x-a': 'caf\u00e9' } }));
    expect(res.status).toBe(201);
    expect(res.body.request.body).toBe('line1\nline2\tx');
  });

  it('the normalised URL that was checked is what is stored', async () => {
    const res = await request(t.app)
      .post('/v1/jobs')
      .set('Authorization', alice.auth)
      .send(validJob({}, { url: 'HTTPS://EXAMPLE.com:443/a/../b?q=1' }));
    expect(res.status).toBe(201);
    expect(res.body.request.url).toBe('https://example.com/b?q=1');
    const { rows } = await db.pool.query(`SELECT url FROM jobs WHERE id = $1`, [res.body.id]);
    expect(rows[0].url).toBe('https://example.com/b?q=1');
  });
});

describe('JSON body limits', () => {
  it('anonymous routes parse only small bodies: 300 KB of nested arrays is refused before parsing', async () => {
    const big = JSON.stringify({
      email: 'a@example.com',
      pad: Array.from({ length: 30_000 }, () => [[1, 2]]),
    });
    expect(big.length).toBeGreaterThan(200_000);
    const res = await request(t.app)
      .post('/v1/auth/magic-link')
      .set('Content-Type', 'application/json')
      .send(big);
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
  });

  it('an unauthenticated job create with a large body is a 401, not parsed', async () => {
    const res = await request(t.app)
      .post('/v1/jobs')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify(validJob({}, { body: 'x'.repeat(200_000) })));
    expect(res.status).toBe(401);
  });

  it('an authenticated job create still takes a body up to JOB_BODY_MAX_BYTES', async () => {
    const res = await request(t.app)
      .post('/v1/jobs')
      .set('Authorization', alice.auth)
      .send(validJob({}, { body: 'x'.repeat(200_000) }));
    expect(res.status).toBe(201);
  });
});

describe('fire_at in the past is due now', () => {
  it('keeps fire_at as asked, but next_attempt_at is never earlier than the creation', async () => {
    const res = await request(t.app)
      .post('/v1/jobs')
      .set('Authorization', alice.auth)
      .send(validJob({ fire_at: '2001-01-01T00:00:00Z' }));
    expect(res.status).toBe(201);
    expect(res.body.fire_at).toBe('2001-01-01T00:00:00.000Z');
    const { rows } = await db.pool.query(
      `SELECT next_attempt_at >= created_at AS ok, next_attempt_at FROM jobs WHERE id = $1`,
      [res.body.id],
    );
    expect(rows[0].ok).toBe(true);
    expect(Date.parse(res.body.next_attempt_at)).toBe(new Date(rows[0].next_attempt_at).getTime());
  });
});

describe('GET /v1/jobs/{id}/executions is paginated', () => {
  it('pages through attempts in order with limit and cursor; bad limit or cursor → 400', async () => {
    const job = (await request(t.app).post('/v1/jobs').set('Authorization', alice.auth).send(validJob()))
      .body;
    // Attempts out of insertion order (a late, superseded attempt 1 arrives after attempt 2).
    await db.pool.query(
      `INSERT INTO job_executions (job_id, attempt, outcome)
       SELECT $1, a, 'failed' FROM unnest(ARRAY[2, 1, 3, 4, 1]) AS a`,
      [job.id],
    );
    const url = `/v1/jobs/${job.id}/executions`;
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: request.Response = await request(t.app)
        .get(url)
        .query({ limit: 2, ...(cursor ? { cursor } : {}) })
        .set('Authorization', alice.auth);
      expect(res.status).toBe(200);
      expect(res.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.data.map((e: { attempt: number }) => e.attempt));
      cursor = res.body.next_cursor as string | null;
      pages++;
    } while (cursor);
    expect(seen).toEqual([1, 1, 2, 3, 4]);
    expect(pages).toBe(3);
    const all = await request(t.app).get(url).set('Authorization', alice.auth);
    expect(all.body.data).toHaveLength(5);
    expect(all.body.next_cursor).toBeNull();
    expect(all.body.data[0].response_body_encoding).toBe('utf8');

    for (const qs of ['limit=0', 'limit=101', 'limit=abc', 'cursor=zzz', 'cursor=djE6MTI', 'other=1']) {
      const res = await request(t.app).get(`${url}?${qs}`).set('Authorization', alice.auth);
      expect(res.status, qs).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
    }
  });
});

describe('re-drive counts like a create', () => {
  async function failedJob(app: TestApp, auth: string) {
    const job = (await request(app.app).post('/v1/jobs').set('Authorization', auth).send(validJob())).body;
    await forceJobState(db, job.id, 'failed');
    return job.id as string;
  }

  it('against the active-jobs quota', async () => {
    const q = await createTestApp(db, { TARGET_ALLOWLIST: '', JOB_MAX_ACTIVE_PER_USER: '2' });
    try {
      const s = await sessionFor(db, q.config);
      const a = await failedJob(q, s.auth);
      const b = await failedJob(q, s.auth);
      expect(
        (await request(q.app).post('/v1/jobs').set('Authorization', s.auth).send(validJob())).status,
      ).toBe(201);
      expect((await request(q.app).post(`/v1/jobs/${a}/retry`).set('Authorization', s.auth)).status).toBe(
        200,
      );
      const res = await request(q.app).post(`/v1/jobs/${b}/retry`).set('Authorization', s.auth);
      expect(res.status).toBe(429);
      expect(res.body.error.code).toBe('quota_exceeded');
      expect((await db.pool.query(`SELECT status FROM jobs WHERE id = $1`, [b])).rows[0].status).toBe(
        'failed',
      );
    } finally {
      await q.close();
    }
  });

  it('against the creation rate limit', async () => {
    const q = await createTestApp(db, { TARGET_ALLOWLIST: '', JOB_CREATE_RATE_PER_MINUTE: '3' });
    try {
      const s = await sessionFor(db, q.config);
      const a = await failedJob(q, s.auth);
      const b = await failedJob(q, s.auth); // two creates used
      expect((await request(q.app).post(`/v1/jobs/${a}/retry`).set('Authorization', s.auth)).status).toBe(
        200,
      );
      const res = await request(q.app).post(`/v1/jobs/${b}/retry`).set('Authorization', s.auth);
      expect(res.status).toBe(429);
      expect(res.body.error.code).toBe('rate_limited');
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    } finally {
      await q.close();
    }
  });

  it('a job that is not failed is still a 409, and uses no quota', async () => {
    const q = await createTestApp(db, { TARGET_ALLOWLIST: '', JOB_CREATE_RATE_PER_MINUTE: '1' });
    try {
      const s = await sessionFor(db, q.config);
      const job = (await request(q.app).post('/v1/jobs').set('Authorization', s.auth).send(validJob())).body;
      for (let i = 0; i < 3; i++) {
        const res = await request(q.app).post(`/v1/jobs/${job.id}/retry`).set('Authorization', s.auth);
        expect(res.status).toBe(409);
        expect(res.body.error.code).toBe('job_not_failed');
      }
    } finally {
      await q.close();
    }
  });
});
