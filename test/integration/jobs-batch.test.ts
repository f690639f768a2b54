// POST /v1/jobs/batch: all valid or nothing written, every invalid item listed by index, per-item
// idempotency, order kept, quotas and the rate limit over the whole batch.
import crypto from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { createTestApp, sessionFor, type TestApp } from '../helpers/app.ts';
import { waitFor } from '../helpers/http.ts';
import { insertJobs } from '../../src/sql/jobs.ts';
import { requestHash } from '../../src/jobs/schema.ts';

let db: TestDb;
let t: TestApp;
let auth: string;

const job = (name: string, over: Record<string, unknown> = {}) => ({
  name,
  request: { method: 'POST', url: 'https://example.com/hook', body: '{}' },
  delay_seconds: 3600,
  ...over,
});
const batch = (app: TestApp['app'], a: string, jobs: unknown[]) =>
  request(app).post('/v1/jobs/batch').set('Authorization', a).send({ jobs });
const count = async () => (await db.pool.query('SELECT count(*)::int AS n FROM jobs')).rows[0].n as number;

beforeAll(async () => {
  db = await createTestDb();
  t = await createTestApp(db, { TARGET_ALLOWLIST: '' });
  auth = (await sessionFor(db, t.config)).auth;
});
afterAll(async () => {
  await t.close();
  await db.drop();
});

describe('POST /v1/jobs/batch', () => {
  it('creates every job in one go and answers them in the order given', async () => {
    const names = Array.from({ length: 250 }, (_, i) => `j${i}`);
    const res = await batch(
      t.app,
      auth,
      names.map((n) => job(n)),
    );
    expect(res.status).toBe(201);
    expect(res.body.data.map((j: { name: string }) => j.name)).toEqual(names);
    expect(new Set(res.body.data.map((j: { id: string }) => j.id)).size).toBe(250);
    const got = await request(t.app).get(`/v1/jobs/${res.body.data[7].id}`).set('Authorization', auth);
    expect(got.body).toMatchObject({ name: 'j7', status: 'scheduled' });
    // The batch answer is the job exactly as GET shows it (its instants are formatted by Postgres,
    // GET's by JavaScript: same instant, same milliseconds, same form).
    expect(res.body.data[7]).toEqual(got.body);
    expect(res.body.data[7].fire_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it('one invalid item: 400 listing every invalid item by index, and nothing written', async () => {
    const before = await count();
    const res = await batch(t.app, auth, [
      job('ok'),
      job('bad url', { request: { method: 'POST', url: 'http://169.254.169.254/' } }),
      job('ok2'),
      job('both', { fire_at: new Date(Date.now() + 86_400_000).toISOString() }),
      { name: 'x', nope: 1 },
    ]);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    const paths = (res.body.error.details as { path: string }[]).map((d) => d.path);
    expect(paths).toContain('jobs.1.request.url');
    expect(paths, JSON.stringify(paths)).toContain('jobs.3.delay_seconds');
    expect(paths.some((p) => p.startsWith('jobs.4'))).toBe(true);
    expect(paths.some((p) => p.startsWith('jobs.0') || p.startsWith('jobs.2'))).toBe(false);
    expect(await count()).toBe(before);
  });

  it('size: 1 to 1,000 items', async () => {
    expect((await batch(t.app, auth, [])).status).toBe(400);
    const tooMany = await batch(
      t.app,
      auth,
      Array.from({ length: 1001 }, (_, i) => job(`n${i}`)),
    );
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.details[0].path).toBe('jobs');
  });

  it('per-item idempotency: replays keep their job, another body → 409 for the whole batch, repeated keys → 400', async () => {
    const first = await batch(t.app, auth, [job('a', { idempotency_key: 'k-a' }), job('b')]);
    expect(first.status).toBe(201);
    const before = await count();
    const again = await batch(t.app, auth, [job('a', { idempotency_key: 'k-a' })]);
    expect(again.status).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body.data[0].id).toBe(first.body.data[0].id);
    const mixed = await batch(t.app, auth, [job('new'), job('a', { idempotency_key: 'k-a' })]);
    expect(mixed.status).toBe(201);
    expect(mixed.body.data[1].id).toBe(first.body.data[0].id);
    expect(await count()).toBe(before + 1);
    const conflict = await batch(t.app, auth, [job('other'), job('a changed', { idempotency_key: 'k-a' })]);
    expect(conflict.status).toBe(409);
    expect(conflict.body.error).toMatchObject({
      code: 'idempotency_key_reused',
      details: { items: ['jobs.1'] },
    });
    const dup = await batch(t.app, auth, [
      job('x', { idempotency_key: 'same' }),
      job('y', { idempotency_key: 'same' }),
    ]);
    expect(dup.status).toBe(400);
    expect(dup.body.error.details[0].path).toBe('jobs.1.idempotency_key');
    expect(await count()).toBe(before + 1);
  });

  // The race of the hardening issue: a concurrent request commits one of the batch's keys between the
  // batch's check and its insert. Made deterministic: the other request's transaction holds the key
  // until the batch's INSERT waits on it, then commits.
  const raceOnKey = async (key: string, theirs: Record<string, unknown>, ours: unknown[]) => {
    const s = await sessionFor(db, t.config);
    const other = await db.pool.connect();
    try {
      await other.query('BEGIN');
      const [row] = await insertJobs(
        other,
        [
          {
            id: crypto.randomUUID(),
            userId: s.user.id,
            name: String(theirs.name),
            method: 'POST',
            url: 'https://example.com/hook',
            headers: {},
            body: '{}',
            fireAt: null,
            delaySeconds: 3600,
            timeoutMs: 10_000,
            retry: { strategy: 'exponential', max_attempts: 3, base_delay_ms: 1000, max_delay_ms: 60_000 },
            idempotencyKey: key,
            requestHash: requestHash(theirs),
            traceParent: null,
          },
        ],
        0,
      );
      const answer = batch(t.app, s.auth, ours).then((r) => r);
      await waitFor(
        async () =>
          (
            await db.pool.query(
              `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO jobs%'`,
            )
          ).rowCount === 1,
        'the batch insert waiting on the key',
      );
      await other.query('COMMIT');
      const res = await answer;
      const names = (
        await db.pool.query<{ name: string }>('SELECT name FROM jobs WHERE user_id = $1 ORDER BY name', [
          s.user.id,
        ])
      ).rows.map((r) => r.name);
      return { res, names, theirId: row!.id };
    } finally {
      other.release();
    }
  };

  it('a key taken by a concurrent request with another job: 409, and nothing of the batch written', async () => {
    const { res, names } = await raceOnKey('race-1', job('theirs'), [
      job('ours', { idempotency_key: 'race-1' }),
      job('unkeyed'),
    ]);
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'idempotency_key_reused', details: { items: ['jobs.0'] } });
    expect(names).toEqual(['theirs']); // the unkeyed job was not written: a retry cannot fire it twice
  });

  it('a key taken by a concurrent request with the same job: a replay, the rest written once', async () => {
    const same = job('same');
    const { res, names, theirId } = await raceOnKey('race-2', same, [
      { ...same, idempotency_key: 'race-2' },
      job('unkeyed'),
    ]);
    expect(res.status).toBe(201);
    expect(res.body.data[0].id).toBe(theirId);
    expect(res.body.data[1].name).toBe('unkeyed');
    expect(names).toEqual(['same', 'unkeyed']);
  });

  it('the quota and the rate limit apply to the whole batch: all or none', async () => {
    const q = await createTestApp(db, { TARGET_ALLOWLIST: '', JOB_MAX_ACTIVE_PER_USER: '10' });
    try {
      const s = await sessionFor(db, q.config);
      expect(
        (
          await batch(
            q.app,
            s.auth,
            Array.from({ length: 8 }, (_, i) => job(`q${i}`)),
          )
        ).status,
      ).toBe(201);
      const over = await batch(
        q.app,
        s.auth,
        Array.from({ length: 3 }, (_, i) => job(`r${i}`)),
      );
      expect(over.status).toBe(429);
      expect(over.body.error.code).toBe('quota_exceeded');
      expect((await batch(q.app, s.auth, [job('s0'), job('s1')])).status).toBe(201);
    } finally {
      await q.close();
    }
    const r = await createTestApp(db, { TARGET_ALLOWLIST: '', JOB_CREATE_RATE_PER_MINUTE: '5' });
    try {
      const s = await sessionFor(db, r.config);
      const over = await batch(
        r.app,
        s.auth,
        Array.from({ length: 6 }, (_, i) => job(`t${i}`)),
      );
      expect(over.status).toBe(429);
      expect(over.body.error.code).toBe('rate_limited');
      expect(
        (
          await batch(
            r.app,
            s.auth,
            Array.from({ length: 5 }, (_, i) => job(`u${i}`)),
          )
        ).status,
      ).toBe(201);
    } finally {
      await r.close();
    }
  });

  it('needs jobs:write with an API key', async () => {
    const key = (
      await request(t.app)
        .post('/v1/api-keys')
        .set('Authorization', auth)
        .send({ name: 'r', scopes: ['jobs:read'] })
    ).body.key as string;
    const res = await batch(t.app, `Bearer ${key}`, [job('x')]);
    expect(res.status).toBe(403);
    expect(res.body.error.details).toEqual({ needed: 'jobs:write' });
  });
});
