// Schedules through the real API: validation, next runs, preview, ownership, ETags, pause/resume,
// edit and delete replacing the pending occurrence, idempotency, quotas and scopes.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { createTestApp, sessionFor, type TestApp } from '../helpers/app.ts';

let db: TestDb;
let t: TestApp;
let alice: Awaited<ReturnType<typeof sessionFor>>;
let bob: Awaited<ReturnType<typeof sessionFor>>;

const daily = (over: Record<string, unknown> = {}) => ({
  name: 'morning report',
  cron: '0 9 * * 1-5',
  timezone: 'Europe/Berlin',
  request: { method: 'POST', url: 'https://example.com/hook', body: '{}' },
  ...over,
});
const post = (auth: string, body: unknown, key?: string) => {
  const r = request(t.app).post('/v1/schedules').set('Authorization', auth);
  if (key) r.set('Idempotency-Key', key);
  return r.send(body as object);
};
const pending = async (scheduleId: string) =>
  (
    await db.pool.query(
      `SELECT id, scheduled_for, status FROM jobs WHERE schedule_id = $1 AND status = 'scheduled' ORDER BY scheduled_for`,
      [scheduleId],
    )
  ).rows as { id: string; scheduled_for: Date; status: string }[];

beforeAll(async () => {
  db = await createTestDb();
  t = await createTestApp(db, { TARGET_ALLOWLIST: '', SCHEDULES_MAX_PER_USER: '50' });
  alice = await sessionFor(db, t.config, 'alice-sched@example.com');
  bob = await sessionFor(db, t.config, 'bob-sched@example.com');
});
afterAll(async () => {
  await t.close();
  await db.drop();
});

describe('POST /v1/schedules', () => {
  it('creates a schedule with its next runs, and its first occurrence as an ordinary scheduled job', async () => {
    const res = await post(alice.auth, daily());
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`/v1/schedules/${res.body.id}`);
    expect(res.headers.etag).toBe('"v1"');
    expect(res.body).toMatchObject({
      name: 'morning report',
      cron: '0 9 * * 1-5',
      timezone: 'Europe/Berlin',
      request: { method: 'POST', url: 'https://example.com/hook', headers: {}, body: '{}' },
      timeout_ms: 10000,
      retry: { strategy: 'exponential', max_attempts: 5 },
      overlap: 'allow',
      misfire: 'run_once',
      paused: false,
      status: 'active',
      skipped_count: 0,
    });
    const runs = res.body.next_runs as { at: string; local: string }[];
    expect(runs).toHaveLength(5);
    for (const r of runs) {
      expect(r.local).toMatch(/T09:00:00\+0[12]:00$/);
      expect(new Date(r.at).getTime()).toBe(new Date(r.local).getTime());
    }
    const occ = await pending(res.body.id);
    expect(occ).toHaveLength(1);
    expect(occ[0]!.scheduled_for.toISOString()).toBe(runs[0]!.at);
    const job = await request(t.app).get(`/v1/jobs/${occ[0]!.id}`).set('Authorization', alice.auth);
    expect(job.body).toMatchObject({
      schedule_id: res.body.id,
      scheduled_for: runs[0]!.at,
      status: 'scheduled',
    });
    const list = await request(t.app)
      .get(`/v1/schedules/${res.body.id}/jobs`)
      .set('Authorization', alice.auth);
    expect(list.body.data.map((j: { id: string }) => j.id)).toEqual([occ[0]!.id]);
  });

  it.each([
    ['invalid cron', { cron: '61 * * * *' }, 'cron', /minute/],
    ['too many fields', { cron: '* * * * * * *' }, 'cron', /./],
    ['unknown time zone', { timezone: 'Mars/Olympus' }, 'timezone', /./],
    [
      'interval below the minimum',
      { cron: '*/10 * * * * *' },
      'cron',
      /every 10 s; the minimum interval is 60 s/,
    ],
    [
      'end before start',
      { start_at: '2030-01-02T00:00:00Z', end_at: '2030-01-01T00:00:00Z' },
      'end_at',
      /after start_at/,
    ],
    ['end in the past', { end_at: '2001-01-01T00:00:00Z' }, 'end_at', /future/],
    [
      'fires less than once in 10 years (Feb 29 that is a Sunday)',
      { cron: '0 0 29 2 */7' },
      'cron',
      /^fires less than once in 10 years \(up to 40 years pass between two fire times\)/,
    ],
    ['bad misfire', { misfire: 'sometimes' }, 'misfire', /./],
    ['SSRF target', { request: { method: 'POST', url: 'http://169.254.169.254/' } }, 'request.url', /./],
    [
      'reserved header',
      { request: { method: 'POST', url: 'https://example.com/', headers: { 'djs-schedule-id': 'x' } } },
      'request.headers.djs-schedule-id',
      /set by the scheduler/,
    ],
  ])('%s → 400 validation_failed naming %s', async (_what, over, path, message) => {
    const res = await post(alice.auth, daily(over));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    const d = (res.body.error.details as { path: string; message: string }[]).find((x) => x.path === path);
    expect(d, JSON.stringify(res.body)).toBeTruthy();
    expect(d!.message).toMatch(message);
  });

  it('idempotency: same key and body replays; same key, other body → 409', async () => {
    const a = await post(alice.auth, daily({ name: 'idem' }), 'sched-key-1');
    const b = await post(alice.auth, daily({ name: 'idem' }), 'sched-key-1');
    expect(a.status).toBe(201);
    expect(b.status).toBe(200);
    expect(b.headers['idempotent-replayed']).toBe('true');
    expect(b.body.id).toBe(a.body.id);
    expect(await pending(a.body.id)).toHaveLength(1);
    const c = await post(alice.auth, daily({ name: 'other' }), 'sched-key-1');
    expect(c.status).toBe(409);
    expect(c.body.error.code).toBe('idempotency_key_reused');
  });

  it('start_at and end_at bound the runs; a paused schedule plans nothing', async () => {
    const res = await post(
      alice.auth,
      daily({
        cron: '0 12 * * *',
        timezone: 'UTC',
        start_at: '2030-06-01T12:00:00Z',
        end_at: '2030-06-03T12:00:00Z',
      }),
    );
    expect(res.body.next_runs.map((r: { at: string }) => r.at)).toEqual([
      '2030-06-01T12:00:00.000Z',
      '2030-06-02T12:00:00.000Z',
    ]);
    const paused = await post(alice.auth, daily({ paused: true }));
    expect(paused.body).toMatchObject({ status: 'paused', next_runs: [] });
    expect(await pending(paused.body.id)).toHaveLength(0);
  });
});

describe('preview', () => {
  it('the next fire times after from, in UTC and local time, with no side effect', async () => {
    const before = (await db.pool.query(`SELECT count(*)::int AS n FROM jobs`)).rows[0].n;
    const res = await request(t.app)
      .get('/v1/schedules/preview')
      .query({ cron: '30 2 * * *', timezone: 'Europe/Berlin', from: '2027-03-27T00:00:00Z', count: 3 })
      .set('Authorization', alice.auth);
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual([
      { at: '2027-03-27T01:30:00.000Z', local: '2027-03-27T02:30:00+01:00' },
      // 02:30 does not exist on the spring-forward day: the offset before the change applies.
      { at: '2027-03-28T01:30:00.000Z', local: '2027-03-28T03:30:00+02:00' },
      { at: '2027-03-29T00:30:00.000Z', local: '2027-03-29T02:30:00+02:00' },
    ]);
    expect((await db.pool.query(`SELECT count(*)::int AS n FROM jobs`)).rows[0].n).toBe(before);
    for (const q of [
      { cron: 'nope' },
      { cron: '* * * * *', count: '0' },
      { cron: '* * * * *', count: '101' },
      { cron: '* * * * *', timezone: 'X/Y' },
      { cron: '* * * * *', from: 'yesterday' },
      { cron: '0 0 29 2 */7', count: '100' },
    ]) {
      const bad = await request(t.app).get('/v1/schedules/preview').query(q).set('Authorization', alice.auth);
      expect(bad.status, JSON.stringify(q)).toBe(400);
      expect(bad.body.error.code).toBe('validation_failed');
    }
  });
});

describe('bounded work: rare expressions, zone spellings', () => {
  it('preview refuses an expression firing less than once in 10 years, and counts past 50 years', async () => {
    const get = (q: Record<string, string>) =>
      request(t.app).get('/v1/schedules/preview').query(q).set('Authorization', alice.auth);
    const rare = await get({ cron: '0 0 29 2 */7', count: '100' });
    expect(rare.status).toBe(400);
    expect(rare.body.error.details).toEqual([
      {
        path: 'cron',
        message: expect.stringMatching(/^fires less than once in 10 years/),
      },
    ]);
    // Leap days fire every 4 years (8 across 2100): accepted, but 100 of them span 400 years.
    const leap = await get({ cron: '0 0 29 2 *', from: '2026-01-01T00:00:00Z', count: '100' });
    expect(leap.status).toBe(400);
    expect(leap.body.error.details[0]).toMatchObject({ path: 'count' });
    expect(leap.body.error.details[0].message).toMatch(/past 50 years after from.*12 fall within it/);
    const fits = await get({ cron: '0 0 29 2 *', from: '2026-01-01T00:00:00Z', count: '12' });
    expect(fits.status).toBe(200);
    expect(fits.body.data.at(-1).at).toBe('2072-02-29T00:00:00.000Z');
    // A yearly expression: 50 fit.
    expect((await get({ cron: '0 0 1 1 *', count: '50' })).status).toBe(200);
  });

  it('a zone in any capitalisation is stored and computed in its canonical spelling', async () => {
    const res = await post(alice.auth, daily({ timezone: 'eUrOpE/bErLiN' }));
    expect(res.status).toBe(201);
    expect(res.body.timezone).toBe('Europe/Berlin');
    const { rows } = await db.pool.query('SELECT timezone FROM schedules WHERE id = $1', [res.body.id]);
    expect(rows[0].timezone).toBe('Europe/Berlin');
    const patched = await request(t.app)
      .patch(`/v1/schedules/${res.body.id}`)
      .set('Authorization', alice.auth)
      .send({ timezone: 'america/new_york' });
    expect(patched.body.timezone).toBe('America/New_York');
    const preview = await request(t.app)
      .get('/v1/schedules/preview')
      .query({ cron: '0 9 * * *', timezone: 'asia/TOKYO', from: '2027-01-01T00:00:00Z', count: '1' })
      .set('Authorization', alice.auth);
    // Strictly after from: the next morning in Tokyo.
    expect(preview.body.data).toEqual([
      { at: '2027-01-02T00:00:00.000Z', local: '2027-01-02T09:00:00+09:00' },
    ]);
  });
});

describe('changing a schedule', () => {
  it('PATCH replaces the pending occurrence; If-Match with a stale ETag → 412 and nothing changes', async () => {
    const s = (await post(alice.auth, daily())).body;
    const first = await pending(s.id);
    const res = await request(t.app)
      .patch(`/v1/schedules/${s.id}`)
      .set('Authorization', alice.auth)
      .set('If-Match', '"v1"')
      .send({ cron: '0 18 * * *', timezone: 'America/New_York' });
    expect(res.status).toBe(200);
    expect(res.headers.etag).toBe('"v2"');
    expect(res.body).toMatchObject({
      cron: '0 18 * * *',
      timezone: 'America/New_York',
      name: 'morning report',
    });
    const now = await pending(s.id);
    expect(now).toHaveLength(1);
    expect(now[0]!.id).not.toBe(first[0]!.id);
    expect(now[0]!.scheduled_for.toISOString()).toBe(res.body.next_runs[0].at);
    const old = await db.pool.query(`SELECT status FROM jobs WHERE id = $1`, [first[0]!.id]);
    expect(old.rows[0].status).toBe('cancelled');
    const stale = await request(t.app)
      .patch(`/v1/schedules/${s.id}`)
      .set('Authorization', alice.auth)
      .set('If-Match', '"v1"')
      .send({ cron: '0 7 * * *' });
    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe('precondition_failed');
    expect(
      (await request(t.app).get(`/v1/schedules/${s.id}`).set('Authorization', alice.auth)).body.cron,
    ).toBe('0 18 * * *');
    const bad = await request(t.app)
      .patch(`/v1/schedules/${s.id}`)
      .set('Authorization', alice.auth)
      .send({ cron: 'x' });
    expect(bad.status).toBe(400);
    expect((await pending(s.id))[0]!.id).toBe(now[0]!.id);
  });

  it('pause cancels the pending occurrence; resume plans from now; both are idempotent', async () => {
    const s = (await post(alice.auth, daily())).body;
    const p1 = await request(t.app).post(`/v1/schedules/${s.id}/pause`).set('Authorization', alice.auth);
    expect(p1.status).toBe(200);
    expect(p1.body).toMatchObject({ paused: true, status: 'paused', next_runs: [] });
    expect(await pending(s.id)).toHaveLength(0);
    const p2 = await request(t.app).post(`/v1/schedules/${s.id}/pause`).set('Authorization', alice.auth);
    expect(p2.body.etag).toBe(p1.body.etag);
    const r = await request(t.app).post(`/v1/schedules/${s.id}/resume`).set('Authorization', alice.auth);
    expect(r.body).toMatchObject({ paused: false, status: 'active' });
    const occ = await pending(s.id);
    expect(occ).toHaveLength(1);
    expect(occ[0]!.scheduled_for.toISOString()).toBe(r.body.next_runs[0].at);
  });

  it('DELETE cancels the pending occurrence and keeps past occurrences as jobs', async () => {
    const s = (await post(alice.auth, daily())).body;
    const occ = await pending(s.id);
    const del = await request(t.app).delete(`/v1/schedules/${s.id}`).set('Authorization', alice.auth);
    expect(del.status).toBe(204);
    expect((await request(t.app).get(`/v1/schedules/${s.id}`).set('Authorization', alice.auth)).status).toBe(
      404,
    );
    const job = await request(t.app).get(`/v1/jobs/${occ[0]!.id}`).set('Authorization', alice.auth);
    expect(job.body).toMatchObject({ status: 'cancelled', schedule_id: null });
    expect(
      (await request(t.app).delete(`/v1/schedules/${s.id}`).set('Authorization', alice.auth)).status,
    ).toBe(404);
  });
});

describe('conditional and no-op writes', () => {
  const patch = (id: string, body: object, ifMatch?: string) => {
    const r = request(t.app).patch(`/v1/schedules/${id}`).set('Authorization', alice.auth);
    if (ifMatch !== undefined) r.set('If-Match', ifMatch);
    return r.send(body);
  };

  it('If-Match: a list naming the current ETag matches, and so does *; a list without it, or a weak tag, → 412', async () => {
    const s = (await post(alice.auth, daily())).body;
    expect((await patch(s.id, { name: 'a' }, '"v0", "v1"')).status).toBe(200);
    expect((await patch(s.id, { name: 'b' }, '"v2" ,"v9"')).status).toBe(200);
    expect((await patch(s.id, { name: 'c' }, '*')).status).toBe(200);
    for (const stale of ['"v1", "v2"', 'W/"v4"', '"v4"x', 'v4']) {
      const res = await patch(s.id, { name: 'd' }, stale);
      expect(res.status, stale).toBe(412);
      expect(res.body.error.code).toBe('precondition_failed');
    }
    expect(
      (await request(t.app).get(`/v1/schedules/${s.id}`).set('Authorization', alice.auth)).body,
    ).toMatchObject({ name: 'c', etag: '"v4"' });
  });

  it('DELETE honours If-Match: a stale ETag → 412 and nothing is deleted; the current one (or a list with it) deletes', async () => {
    const s = (await post(alice.auth, daily())).body;
    const occ = await pending(s.id);
    await patch(s.id, { name: 'renamed' });
    const del = (ifMatch: string) =>
      request(t.app)
        .delete(`/v1/schedules/${s.id}`)
        .set('Authorization', alice.auth)
        .set('If-Match', ifMatch);
    const stale = await del('"v1"');
    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe('precondition_failed');
    expect((await request(t.app).get(`/v1/schedules/${s.id}`).set('Authorization', alice.auth)).status).toBe(
      200,
    );
    expect((await pending(s.id)).map((j) => j.id)).toEqual(occ.map((j) => j.id));
    expect((await del('"v1", "v2"')).status).toBe(204);
    expect((await request(t.app).get(`/v1/schedules/${s.id}`).set('Authorization', alice.auth)).status).toBe(
      404,
    );
  });

  it('a PATCH that changes nothing of what fires ({}, the name, overlap, misfire) keeps the pending occurrence', async () => {
    const s = (await post(alice.auth, daily())).body;
    const [occ] = await pending(s.id);
    for (const body of [{}, { name: 'evening report' }, { overlap: 'skip', misfire: 'skip' }]) {
      const res = await patch(s.id, body);
      expect(res.status, JSON.stringify(body)).toBe(200);
      expect(res.body.next_runs[0].at).toBe(occ!.scheduled_for.toISOString());
      expect(
        (await pending(s.id)).map((j) => j.id),
        JSON.stringify(body),
      ).toEqual([occ!.id]);
    }
    // The occurrence carries the new name; nothing was cancelled.
    const job = await request(t.app).get(`/v1/jobs/${occ!.id}`).set('Authorization', alice.auth);
    expect(job.body).toMatchObject({ name: 'evening report', status: 'scheduled' });
    const cancelled = await db.pool.query(
      `SELECT 1 FROM jobs WHERE schedule_id = $1 AND status = 'cancelled'`,
      [s.id],
    );
    expect(cancelled.rowCount).toBe(0);
    // A new request template is what the next occurrence must send: that one is replaced.
    const res = await patch(s.id, { request: { method: 'POST', url: 'https://example.com/other' } });
    expect(res.status).toBe(200);
    const [now] = await pending(s.id);
    expect(now!.id).not.toBe(occ!.id);
    expect(now!.scheduled_for.toISOString()).toBe(occ!.scheduled_for.toISOString());
  });
});

describe('ownership, paging, quota, scopes', () => {
  it("bob cannot see or touch alice's schedule: 404 like a missing one; malformed ids too", async () => {
    const s = (await post(alice.auth, daily())).body;
    for (const [method, path] of [
      ['get', `/v1/schedules/${s.id}`],
      ['get', `/v1/schedules/${s.id}/jobs`],
      ['patch', `/v1/schedules/${s.id}`],
      ['post', `/v1/schedules/${s.id}/pause`],
      ['post', `/v1/schedules/${s.id}/resume`],
      ['delete', `/v1/schedules/${s.id}`],
      ['get', '/v1/schedules/not-a-uuid'],
    ] as const) {
      const agent = request(t.app);
      const res = await agent[method](path).set('Authorization', bob.auth).send({ name: 'x' });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    const list = await request(t.app).get('/v1/schedules').set('Authorization', bob.auth);
    expect(list.body.data.map((x: { id: string }) => x.id)).not.toContain(s.id);
    expect(await pending(s.id)).toHaveLength(1);
  });

  it('lists newest first with a cursor', async () => {
    const u = await sessionFor(db, t.config);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await post(u.auth, daily({ name: `s${i}` }))).body.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: request.Response = await request(t.app)
        .get('/v1/schedules')
        .query({ limit: 2, ...(cursor ? { cursor } : {}) })
        .set('Authorization', u.auth);
      seen.push(...res.body.data.map((x: { id: string }) => x.id));
      cursor = res.body.next_cursor as string | null;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
  });

  it('SCHEDULES_MAX_PER_USER → 429 quota_exceeded', async () => {
    const q = await createTestApp(db, { TARGET_ALLOWLIST: '', SCHEDULES_MAX_PER_USER: '2' });
    try {
      const u = await sessionFor(db, q.config);
      const mk = () => request(q.app).post('/v1/schedules').set('Authorization', u.auth).send(daily());
      expect((await mk()).status).toBe(201);
      expect((await mk()).status).toBe(201);
      const third = await mk();
      expect(third.status).toBe(429);
      expect(third.body.error.code).toBe('quota_exceeded');
      // Exact under concurrency (the count and the insert were racing): twelve at once, two pass.
      const other = await sessionFor(db, q.config);
      const burst = await Promise.all(
        Array.from({ length: 12 }, () =>
          request(q.app).post('/v1/schedules').set('Authorization', other.auth).send(daily()),
        ),
      );
      expect(burst.map((r) => r.status).sort()).toEqual([201, 201, ...Array(10).fill(429)]);
      const stored = await db.pool.query('SELECT count(*)::int AS n FROM schedules WHERE user_id = $1', [
        other.user.id,
      ]);
      expect(stored.rows[0].n).toBe(2);
    } finally {
      await q.close();
    }
  });

  it('API keys: schedules:read for GETs, schedules:write for changes; jobs scopes do not count', async () => {
    const mk = async (scopes: string[]) =>
      `Bearer ${(await request(t.app).post('/v1/api-keys').set('Authorization', alice.auth).send({ name: 'k', scopes })).body.key as string}`;
    const readKey = await mk(['schedules:read']);
    const writeKey = await mk(['schedules:write']);
    const jobsKey = await mk(['jobs:read', 'jobs:write']);
    const created = await post(writeKey, daily());
    expect(created.status).toBe(201);
    expect(
      (await request(t.app).get(`/v1/schedules/${created.body.id}`).set('Authorization', readKey)).status,
    ).toBe(200);
    const denied = await request(t.app)
      .get(`/v1/schedules/${created.body.id}`)
      .set('Authorization', writeKey);
    expect(denied.status).toBe(403);
    expect(denied.body.error.details).toEqual({ needed: 'schedules:read' });
    expect((await post(readKey, daily())).status).toBe(403);
    expect((await request(t.app).get('/v1/schedules').set('Authorization', jobsKey)).status).toBe(403);
    expect(
      (await request(t.app).get('/v1/schedules/preview?cron=*+*+*+*+*').set('Authorization', readKey)).status,
    ).toBe(200);
  });
});
