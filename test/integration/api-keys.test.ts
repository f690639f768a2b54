// API keys end to end on the real app: lifecycle, the scope matrix, one answer for every bad key,
// session-only routes, what /v1/me says a key may do, schedule occurrences' request templates withheld
// from keys without schedules:read, ownership, last_used_at throttling, per-user limits, and keys
// never logged.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { createTestApp, sessionFor, type TestApp } from '../helpers/app.ts';
import { waitFor } from '../helpers/http.ts';
import { forceJobState } from '../helpers/scheduler.ts';

let db: TestDb;
let t: TestApp;
let alice: Awaited<ReturnType<typeof sessionFor>>;
let bob: Awaited<ReturnType<typeof sessionFor>>;
const logLines: string[] = [];

const job = { request: { method: 'POST', url: 'https://example.com/hook', body: '{}' }, delay_seconds: 3600 };
const newKey = async (auth: string, body: Record<string, unknown>) =>
  request(t.app).post('/v1/api-keys').set('Authorization', auth).send(body);
const keyWith = async (scopes: string[], auth = alice.auth) => {
  const res = await newKey(auth, { name: `k-${scopes.join('+') || 'none'}`, scopes });
  expect(res.status).toBe(201);
  return `Bearer ${res.body.key as string}`;
};

beforeAll(async () => {
  db = await createTestDb();
  // A real pino logger writing into memory: the test checks that no key ever reaches the logs.
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logLines.push(chunk.toString());
      cb();
    },
  });
  t = await createTestApp(
    db,
    { TARGET_ALLOWLIST: '', JOB_CREATE_RATE_PER_MINUTE: '1000' },
    pino({ level: 'debug' }, sink),
  );
  alice = await sessionFor(db, t.config, 'alice-keys@example.com');
  bob = await sessionFor(db, t.config, 'bob-keys@example.com');
});
afterAll(async () => {
  await t.close();
  await db.drop();
});

describe('creating, listing and revoking keys', () => {
  it('creates a key shown once; lists never show it; revoking takes effect on the next request', async () => {
    const created = await newKey(alice.auth, { name: 'ci backend', scopes: ['jobs:read', 'jobs:write'] });
    expect(created.status).toBe(201);
    expect(created.headers['cache-control']).toBe('no-store');
    expect(created.headers.location).toBe(`/v1/api-keys/${created.body.id}`);
    const key = created.body.key as string;
    expect(key).toMatch(/^djs_[A-Za-z0-9_-]{43}$/);
    expect(created.body).toMatchObject({
      name: 'ci backend',
      scopes: ['jobs:read', 'jobs:write'],
      prefix: key.slice(0, 10),
      last_four: key.slice(-4),
      expires_at: null,
      last_used_at: null,
    });
    const list = await request(t.app).get('/v1/api-keys').set('Authorization', alice.auth);
    expect(list.status).toBe(200);
    const listed = list.body.data.find((k: { id: string }) => k.id === created.body.id);
    expect(listed).toEqual({ ...created.body, key: undefined });
    expect(JSON.stringify(list.body)).not.toContain(key);
    // Stored as a hash only.
    const { rows } = await db.pool.query(`SELECT * FROM api_keys WHERE id = $1`, [created.body.id]);
    expect(JSON.stringify(rows[0])).not.toContain(key.slice(4));

    const auth = `Bearer ${key}`;
    expect((await request(t.app).get('/v1/jobs').set('Authorization', auth)).status).toBe(200);
    const del = await request(t.app)
      .delete(`/v1/api-keys/${created.body.id}`)
      .set('Authorization', alice.auth);
    expect(del.status).toBe(204);
    const after = await request(t.app).get('/v1/jobs').set('Authorization', auth);
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('invalid_token');
    const again = await request(t.app)
      .delete(`/v1/api-keys/${created.body.id}`)
      .set('Authorization', alice.auth);
    expect(again.status).toBe(404);
    const listAfter = await request(t.app).get('/v1/api-keys').set('Authorization', alice.auth);
    expect(listAfter.body.data.map((k: { id: string }) => k.id)).not.toContain(created.body.id);
  });

  it.each([
    ['unknown scope', { name: 'k', scopes: ['jobs:admin'] }, 'scopes.0'],
    ['empty scope list', { name: 'k', scopes: [] }, 'scopes'],
    ['repeated scope', { name: 'k', scopes: ['jobs:read', 'jobs:read'] }, 'scopes'],
    ['no scopes', { name: 'k' }, 'scopes'],
    [
      'expiry in the past',
      { name: 'k', scopes: ['jobs:read'], expires_at: '2001-01-01T00:00:00Z' },
      'expires_at',
    ],
    [
      'expiry without offset',
      { name: 'k', scopes: ['jobs:read'], expires_at: '2099-01-01T00:00:00' },
      'expires_at',
    ],
    ['empty name', { name: '', scopes: ['jobs:read'] }, 'name'],
    ['control character in name', { name: 'a\u0000b', scopes: ['jobs:read'] }, 'name'],
    ['unknown field', { name: 'k', scopes: ['jobs:read'], admin: true }, '(body)'],
  ])('%s → 400 validation_failed', async (_what, body, path) => {
    const res = await newKey(alice.auth, body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
  });

  it('an expiry in the future is kept, and the key stops working when it passes (database clock)', async () => {
    const res = await newKey(alice.auth, {
      name: 'short',
      scopes: ['jobs:read'],
      expires_at: '2099-01-01T00:00:00+01:00',
    });
    expect(res.status).toBe(201);
    expect(res.body.expires_at).toBe('2098-12-31T23:00:00.000Z');
    const auth = `Bearer ${res.body.key as string}`;
    expect((await request(t.app).get('/v1/jobs').set('Authorization', auth)).status).toBe(200);
    await db.pool.query(
      `UPDATE api_keys SET created_at = now() - interval '2 days', expires_at = now() - interval '1 second' WHERE id = $1`,
      [res.body.id],
    );
    const r = await request(t.app).get('/v1/jobs').set('Authorization', auth);
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('invalid_token');
  });
});

describe('scopes', () => {
  const routes = async () => {
    const id = (await request(t.app).post('/v1/jobs').set('Authorization', alice.auth).send(job)).body
      .id as string;
    return [
      [
        'POST /v1/jobs',
        'jobs:write',
        (a: string) => request(t.app).post('/v1/jobs').set('Authorization', a).send(job),
      ],
      ['GET /v1/jobs', 'jobs:read', (a: string) => request(t.app).get('/v1/jobs').set('Authorization', a)],
      [
        'GET /v1/jobs/{id}',
        'jobs:read',
        (a: string) => request(t.app).get(`/v1/jobs/${id}`).set('Authorization', a),
      ],
      [
        'GET /v1/jobs/{id}/executions',
        'jobs:read',
        (a: string) => request(t.app).get(`/v1/jobs/${id}/executions`).set('Authorization', a),
      ],
      [
        'POST /v1/jobs/{id}/retry',
        'jobs:write',
        (a: string) => request(t.app).post(`/v1/jobs/${id}/retry`).set('Authorization', a),
      ],
      [
        'POST /v1/jobs/{id}/cancel',
        'jobs:write',
        (a: string) => request(t.app).post(`/v1/jobs/${id}/cancel`).set('Authorization', a),
      ],
    ] as const;
  };

  it('every jobs route × every scope set: allowed exactly when the key has the scope the route needs', async () => {
    const sets = [
      ['jobs:read'],
      ['jobs:write'],
      ['jobs:read', 'jobs:write'],
      ['schedules:read', 'schedules:write'],
    ];
    const keys = await Promise.all(sets.map((s) => keyWith(s)));
    let checked = 0;
    for (let i = 0; i < sets.length; i++) {
      for (const [name, needed, call] of await routes()) {
        const res = await call(keys[i]!);
        if (sets[i]!.includes(needed)) {
          expect(res.status, `${name} with ${sets[i]!.join(',')}`).not.toBe(403);
          expect(res.status, `${name} with ${sets[i]!.join(',')}`).toBeLessThan(500);
        } else {
          expect(res.status, `${name} with ${sets[i]!.join(',')}`).toBe(403);
          expect(res.body.error).toMatchObject({ code: 'insufficient_scope', details: { needed } });
        }
        checked++;
      }
    }
    expect(checked).toBe(24);
  });

  it('write does not imply read', async () => {
    const res = await request(t.app)
      .get('/v1/jobs')
      .set('Authorization', await keyWith(['jobs:write']));
    expect(res.status).toBe(403);
    expect(res.body.error.details).toEqual({ needed: 'jobs:read' });
  });

  it('routes for people need a session: an API key gets 403 session_required (keys cannot mint keys)', async () => {
    const key = await keyWith(['jobs:read', 'jobs:write', 'schedules:read', 'schedules:write']);
    const someId = (await newKey(alice.auth, { name: 'x', scopes: ['jobs:read'] })).body.id as string;
    for (const [method, path] of [
      ['post', '/v1/api-keys'],
      ['get', '/v1/api-keys'],
      ['delete', `/v1/api-keys/${someId}`],
      ['get', '/v1/signing-secret'],
      ['post', '/v1/signing-secret/rotate'],
      ['post', '/v1/auth/logout'],
    ] as const) {
      const agent = request(t.app);
      const res = await agent[method](path)
        .set('Authorization', key)
        .send({ name: 'k', scopes: ['jobs:read'] });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.error.code).toBe('session_required');
    }
    // Nothing changed: the key is still there and no key was minted.
    const list = await request(t.app).get('/v1/api-keys').set('Authorization', alice.auth);
    expect(list.body.data.map((k: { id: string }) => k.id)).toContain(someId);
    expect(list.body.data.filter((k: { name: string }) => k.name === 'k')).toEqual([]);
    // /v1/me answers for a key: who it belongs to.
    const me = await request(t.app).get('/v1/me').set('Authorization', key);
    expect(me.status).toBe(200);
    expect(me.body.email).toBe('alice-keys@example.com');
  });
});

describe('/v1/me says what the credential may do', () => {
  it('a session: kind session; a key: its id and scopes', async () => {
    const me = await request(t.app).get('/v1/me').set('Authorization', alice.auth);
    expect(me.status).toBe(200);
    expect(me.body).toEqual({
      id: alice.user.id,
      email: 'alice-keys@example.com',
      created_at: expect.stringMatching(/Z$/),
      credential: { kind: 'session' },
    });
    const created = (await newKey(alice.auth, { name: 'me', scopes: ['jobs:write', 'schedules:read'] })).body;
    const viaKey = await request(t.app)
      .get('/v1/me')
      .set('Authorization', `Bearer ${created.key as string}`);
    expect(viaKey.status).toBe(200);
    expect(viaKey.body).toEqual({
      ...me.body,
      credential: { kind: 'api_key', key_id: created.id, scopes: ['jobs:write', 'schedules:read'] },
    });
  });
});

describe('schedule occurrences: the request template is schedules data', () => {
  // A schedule whose template carries a credential of its own; creating it plans its first occurrence
  // as a job (no scheduler needed).
  const SECRET_HEADER = 'Bearer target-secret-5c1e';
  const SECRET_BODY = '{"token":"body-secret-9f2a"}';
  const template = {
    method: 'POST',
    url: 'https://example.com/occurrence',
    headers: { authorization: SECRET_HEADER, 'x-tenant': 'acme' },
    body: SECRET_BODY,
  };
  const withheld = {
    method: 'POST',
    url: 'https://example.com/occurrence',
    headers: { authorization: '[redacted]', 'x-tenant': '[redacted]' },
    body: null,
  };
  const oneOffRequest = {
    method: 'POST',
    url: 'https://example.com/one-off',
    headers: { authorization: 'Bearer one-off-secret' },
    body: '{"one":"off"}',
  };
  const occurrenceOf = async (scheduleName: string) => {
    const s = await request(t.app)
      .post('/v1/schedules')
      .set('Authorization', alice.auth)
      .send({ name: scheduleName, cron: '0 9 * * *', timezone: 'UTC', request: template });
    expect(s.status).toBe(201);
    const { rows } = await db.pool.query<{ id: string }>(`SELECT id FROM jobs WHERE schedule_id = $1`, [
      s.body.id,
    ]);
    expect(rows).toHaveLength(1);
    return { scheduleId: s.body.id as string, jobId: rows[0]!.id };
  };
  const get = (auth: string, path: string) => request(t.app).get(path).set('Authorization', auth);

  it('a jobs:read key lists and gets occurrences with header values and body withheld; one-off jobs in full', async () => {
    const occ = await occurrenceOf('withheld list');
    const oneOff = await request(t.app)
      .post('/v1/jobs')
      .set('Authorization', alice.auth)
      .send({ request: oneOffRequest, delay_seconds: 3600 });
    expect(oneOff.status).toBe(201);
    expect(oneOff.body.redacted).toBe(false);
    const jobsOnly = await keyWith(['jobs:read']);

    const list = await get(jobsOnly, '/v1/jobs?limit=100');
    expect(list.status).toBe(200);
    const listed = (id: string) => list.body.data.find((j: { id: string }) => j.id === id);
    expect(listed(occ.jobId)).toMatchObject({
      status: 'scheduled',
      schedule_id: occ.scheduleId,
      scheduled_for: expect.stringMatching(/Z$/),
      request: withheld,
      redacted: true,
    });
    expect(listed(oneOff.body.id)).toMatchObject({ request: oneOffRequest, redacted: false });
    for (const j of list.body.data as { schedule_id: string | null; redacted: boolean }[])
      expect(j.redacted).toBe(j.schedule_id !== null);
    expect(list.text).not.toContain('target-secret');
    expect(list.text).not.toContain('body-secret');

    const one = await get(jobsOnly, `/v1/jobs/${occ.jobId}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ schedule_id: occ.scheduleId, request: withheld, redacted: true });
    expect(one.text).not.toContain('secret');
    expect((await get(jobsOnly, `/v1/jobs/${oneOff.body.id}`)).body).toMatchObject({
      request: oneOffRequest,
      redacted: false,
    });
    // Still counted and still with their attempts: that is jobs data.
    const counts = await get(jobsOnly, '/v1/jobs/counts?name=withheld');
    expect(counts.body.counts.scheduled).toBe(1);
    expect((await get(jobsOnly, `/v1/jobs/${occ.jobId}/executions`)).status).toBe(200);
    // The schedule itself stays refused.
    expect((await get(jobsOnly, `/v1/schedules/${occ.scheduleId}`)).status).toBe(403);
  });

  it('a key that may also read schedules, and a session, see occurrences in full', async () => {
    const occ = await occurrenceOf('full view');
    const both = await keyWith(['jobs:read', 'schedules:read']);
    for (const auth of [both, alice.auth]) {
      const list = await get(auth, '/v1/jobs?name=full+view');
      expect(list.body.data).toEqual([
        expect.objectContaining({ id: occ.jobId, request: template, redacted: false }),
      ]);
      expect((await get(auth, `/v1/jobs/${occ.jobId}`)).body).toMatchObject({
        request: template,
        redacted: false,
      });
    }
    const occurrences = await get(await keyWith(['schedules:read']), `/v1/schedules/${occ.scheduleId}/jobs`);
    expect(occurrences.body.data).toEqual([
      expect.objectContaining({ id: occ.jobId, request: template, redacted: false }),
    ]);
  });

  it('re-drive and cancel answers withhold the template from a jobs:write key without schedules:read', async () => {
    const occ = await occurrenceOf('withheld commands');
    await forceJobState(db, occ.jobId, 'failed');
    const writeOnly = await keyWith(['jobs:write']);
    const retried = await request(t.app).post(`/v1/jobs/${occ.jobId}/retry`).set('Authorization', writeOnly);
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ status: 'scheduled', request: withheld, redacted: true });
    const cancelled = await request(t.app)
      .post(`/v1/jobs/${occ.jobId}/cancel`)
      .set('Authorization', writeOnly);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', request: withheld, redacted: true });
    expect(retried.text + cancelled.text).not.toContain('secret');
    // With schedules:read the same answer is in full.
    const again = await request(t.app)
      .post(`/v1/jobs/${occ.jobId}/cancel`)
      .set('Authorization', await keyWith(['jobs:write', 'schedules:read']));
    expect(again.body).toMatchObject({ status: 'cancelled', request: template, redacted: false });
  });
});

describe('bad keys all get the same answer', () => {
  it('revoked, expired, unknown and malformed keys → the same 401 invalid_token body', async () => {
    const revoked = (await newKey(alice.auth, { name: 'r', scopes: ['jobs:read'] })).body;
    await request(t.app).delete(`/v1/api-keys/${revoked.id}`).set('Authorization', alice.auth);
    const expired = (await newKey(alice.auth, { name: 'e', scopes: ['jobs:read'] })).body;
    await db.pool.query(
      `UPDATE api_keys SET created_at = now() - interval '2 days', expires_at = now() - interval '1 day' WHERE id = $1`,
      [expired.id],
    );
    const valid = (await newKey(alice.auth, { name: 'v', scopes: ['jobs:read'] })).body.key as string;
    const flipped = `${valid.slice(0, -1)}${valid.endsWith('A') ? 'B' : 'A'}`;
    const bodies = new Set<string>();
    for (const k of [revoked.key, expired.key, flipped, 'djs_short', `djs_${'x'.repeat(44)}`, 'djs_']) {
      const res = await request(t.app)
        .get('/v1/jobs')
        .set('Authorization', `Bearer ${k as string}`);
      expect(res.status, k as string).toBe(401);
      bodies.add(JSON.stringify(res.body));
    }
    expect([...bodies]).toEqual([
      JSON.stringify({
        error: { code: 'invalid_token', message: 'the API key is invalid, expired or revoked' },
      }),
    ]);
  });
});

describe('ownership and limits are per user, whichever credential', () => {
  it("a key of bob's cannot see or touch alice's jobs or keys: 404 like a missing one", async () => {
    const aliceJob = (await request(t.app).post('/v1/jobs').set('Authorization', alice.auth).send(job)).body
      .id as string;
    const aliceKeyId = (await newKey(alice.auth, { name: 'a', scopes: ['jobs:read'] })).body.id as string;
    const bobKey = await keyWith(['jobs:read', 'jobs:write'], bob.auth);
    for (const [method, path] of [
      ['get', `/v1/jobs/${aliceJob}`],
      ['get', `/v1/jobs/${aliceJob}/executions`],
      ['post', `/v1/jobs/${aliceJob}/cancel`],
      ['post', `/v1/jobs/${aliceJob}/retry`],
    ] as const) {
      const res = await request(t.app)[method](path).set('Authorization', bobKey);
      expect(res.status, path).toBe(404);
    }
    const list = await request(t.app).get('/v1/jobs').set('Authorization', bobKey);
    expect(list.body.data.map((j: { id: string }) => j.id)).not.toContain(aliceJob);
    for (const id of [aliceKeyId, 'not-a-uuid', '00000000-0000-0000-0000-000000000000']) {
      const res = await request(t.app).delete(`/v1/api-keys/${id}`).set('Authorization', bob.auth);
      expect(res.status, id).toBe(404);
    }
    const aliceList = await request(t.app).get('/v1/api-keys').set('Authorization', alice.auth);
    expect(aliceList.body.data.map((k: { id: string }) => k.id)).toContain(aliceKeyId);
  });

  it('the creation rate limit and the quota count a key and a session of one user together', async () => {
    const q = await createTestApp(db, { TARGET_ALLOWLIST: '', JOB_CREATE_RATE_PER_MINUTE: '2' });
    try {
      const s = await sessionFor(db, q.config);
      const k = (
        await request(q.app)
          .post('/v1/api-keys')
          .set('Authorization', s.auth)
          .send({ name: 'k', scopes: ['jobs:write'] })
      ).body.key as string;
      expect((await request(q.app).post('/v1/jobs').set('Authorization', s.auth).send(job)).status).toBe(201);
      expect(
        (await request(q.app).post('/v1/jobs').set('Authorization', `Bearer ${k}`).send(job)).status,
      ).toBe(201);
      const third = await request(q.app).post('/v1/jobs').set('Authorization', `Bearer ${k}`).send(job);
      expect(third.status).toBe(429);
      expect(third.body.error.code).toBe('rate_limited');
    } finally {
      await q.close();
    }
  });

  it('at most API_KEYS_MAX_PER_USER live keys; revoking one makes room', async () => {
    const q = await createTestApp(db, { TARGET_ALLOWLIST: '', API_KEYS_MAX_PER_USER: '2' });
    try {
      const s = await sessionFor(db, q.config);
      const mk = () =>
        request(q.app)
          .post('/v1/api-keys')
          .set('Authorization', s.auth)
          .send({ name: 'k', scopes: ['jobs:read'] });
      const first = (await mk()).body.id as string;
      expect((await mk()).status).toBe(201);
      const third = await mk();
      expect(third.status).toBe(409);
      expect(third.body.error.code).toBe('api_key_limit_reached');
      await request(q.app).delete(`/v1/api-keys/${first}`).set('Authorization', s.auth);
      expect((await mk()).status).toBe(201);
      // Exact under concurrency: twelve creates at once, no room left, none passes.
      await request(q.app).delete(`/v1/api-keys/${first}`).set('Authorization', s.auth);
      const other = await sessionFor(db, q.config);
      const burst = await Promise.all(
        Array.from({ length: 12 }, () =>
          request(q.app)
            .post('/v1/api-keys')
            .set('Authorization', other.auth)
            .send({ name: 'k', scopes: ['jobs:read'] }),
        ),
      );
      expect(burst.map((r) => r.status).sort()).toEqual([201, 201, ...Array(10).fill(409)]);
      const live = await db.pool.query('SELECT count(*)::int AS n FROM api_keys WHERE user_id = $1', [
        other.user.id,
      ]);
      expect(live.rows[0].n).toBe(2);
    } finally {
      await q.close();
    }
  });

  it('logout ends sessions but not keys; deleting the user ends both', async () => {
    const carol = await sessionFor(db, t.config, 'carol-keys@example.com');
    const key = await keyWith(['jobs:read'], carol.auth);
    expect((await request(t.app).post('/v1/auth/logout').set('Authorization', carol.auth)).status).toBe(204);
    expect((await request(t.app).get('/v1/jobs').set('Authorization', carol.auth)).status).toBe(401);
    expect((await request(t.app).get('/v1/jobs').set('Authorization', key)).status).toBe(200);
    await db.pool.query(`DELETE FROM users WHERE id = $1`, [carol.user.id]);
    const gone = await request(t.app).get('/v1/jobs').set('Authorization', key);
    expect(gone.status).toBe(401);
    expect(gone.body.error.code).toBe('invalid_token');
  });
});

describe('last_used_at', () => {
  it('is written on first use and then at most once a minute, never per request', async () => {
    const created = (await newKey(alice.auth, { name: 'lu', scopes: ['jobs:read'] })).body;
    const auth = `Bearer ${created.key as string}`;
    const lastUsed = async () =>
      (await db.pool.query(`SELECT last_used_at FROM api_keys WHERE id = $1`, [created.id])).rows[0]
        .last_used_at as Date | null;
    expect(await lastUsed()).toBeNull();
    await request(t.app).get('/v1/jobs').set('Authorization', auth);
    // The write goes out beside the request (it does not hold the request up): wait for it.
    const first = await waitFor(lastUsed, 'last_used_at to be written');
    // Count writes to the row: xmin changes with every UPDATE.
    const xmin = async () =>
      (await db.pool.query(`SELECT xmin::text AS x FROM api_keys WHERE id = $1`, [created.id])).rows[0]
        .x as string;
    const before = await xmin();
    for (let i = 0; i < 10; i++)
      expect((await request(t.app).get('/v1/jobs').set('Authorization', auth)).status).toBe(200);
    expect(await xmin()).toBe(before);
    expect(await lastUsed()).toEqual(first);
    // A minute later (moved through the database clock) the next request bumps it once.
    await db.pool.query(`UPDATE api_keys SET last_used_at = now() - interval '61 seconds' WHERE id = $1`, [
      created.id,
    ]);
    const stale = await lastUsed();
    await request(t.app).get('/v1/jobs').set('Authorization', auth);
    await waitFor(async () => (await lastUsed())!.getTime() > stale!.getTime(), 'last_used_at to move');
    const list = await request(t.app).get('/v1/api-keys').set('Authorization', alice.auth);
    expect(list.body.data.find((k: { id: string }) => k.id === created.id).last_used_at).not.toBeNull();
  });
});

describe('keys are never logged', () => {
  it('no log line contains a key, even for requests that use or create one', async () => {
    const created = (await newKey(alice.auth, { name: 'logged?', scopes: ['jobs:read', 'jobs:write'] })).body;
    const key = created.key as string;
    await request(t.app).get('/v1/jobs?status=scheduled').set('Authorization', `Bearer ${key}`);
    await request(t.app).post('/v1/jobs').set('Authorization', `Bearer ${key}`).send(job);
    await request(t.app).get('/v1/jobs').set('Authorization', `Bearer ${key}x`);
    expect(logLines.length).toBeGreaterThan(3);
    const all = logLines.join('\n');
    expect(all).toContain(created.id); // the creation is logged, by id
    expect(all).not.toContain(key.slice(4));
    expect(all).not.toContain(key.slice(10, 30));
  });
});
