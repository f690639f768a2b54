// The auth cache across replicas: two API servers on one database, each listening for revocations.
// A key revoked or a session ended on one is refused by the other as soon as the notice arrives; with
// its LISTEN connection gone, a replica checks every request in the database again.
import request from 'supertest';
import type express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import type { ApiServices } from '../../src/server.ts';
import { anotherApi, createTestApp, sessionFor, type TestApp } from '../helpers/app.ts';
import { waitFor } from '../helpers/http.ts';
import { silentLogger } from '../../src/logger.ts';
import { listenForRevocations } from '../../src/auth/authCache.ts';

let db: TestDb;
let t: TestApp;
const replicas: { app: express.Express; services: ApiServices; stop(): Promise<void> }[] = [];

async function replica() {
  const { app, services } = anotherApi(db, t);
  const listening = await listenForRevocations(db.url, services.authCache, silentLogger);
  await waitFor(() => services.authCache.generation > 0, 'the LISTEN connection');
  const r = { app, services, stop: () => listening.stop() };
  replicas.push(r);
  return r;
}

beforeAll(async () => {
  db = await createTestDb();
  t = await createTestApp(db);
});
afterAll(async () => {
  for (const r of replicas) await r.stop();
  await t.close();
  await db.drop();
});

const me = (app: express.Express, bearer: string) =>
  request(app).get('/v1/me').set('Authorization', `Bearer ${bearer}`);

describe('the auth cache across replicas', () => {
  it('a key revoked through replica A is refused by replica B once the notice arrives', async () => {
    const [a, b] = [await replica(), await replica()];
    const alice = await sessionFor(db, t.config, 'alice-cache@example.com');
    const created = await request(a.app)
      .post('/v1/api-keys')
      .set('Authorization', alice.auth)
      .send({ name: 'k', scopes: ['jobs:read'] });
    const key = created.body.key as string;
    expect((await request(b.app).get('/v1/jobs').set('Authorization', `Bearer ${key}`)).status).toBe(200);
    expect(b.services.authCache.size).toBeGreaterThan(0); // B now answers from its cache

    expect(
      (await request(a.app).delete(`/v1/api-keys/${created.body.id}`).set('Authorization', alice.auth))
        .status,
    ).toBe(204);
    // The notice travels from A's commit to B's LISTEN connection: milliseconds, bounded here by 5 s.
    const refusedAt = performance.now();
    await waitFor(
      async () => (await request(b.app).get('/v1/jobs').set('Authorization', `Bearer ${key}`)).status === 401,
      'B refusing the revoked key',
      5000,
    );
    expect(performance.now() - refusedAt).toBeLessThan(5000);
  });

  it('the replica that revoked refuses at once, before any notice (no window on the same server)', async () => {
    const a = await replica();
    const dave = await sessionFor(db, t.config, 'dave-cache@example.com');
    const created = await request(a.app)
      .post('/v1/api-keys')
      .set('Authorization', dave.auth)
      .send({ name: 'k', scopes: ['jobs:read'] });
    const key = created.body.key as string;
    expect((await request(a.app).get('/v1/jobs').set('Authorization', `Bearer ${key}`)).status).toBe(200);
    expect(
      (await request(a.app).delete(`/v1/api-keys/${created.body.id}`).set('Authorization', dave.auth)).status,
    ).toBe(204);
    expect((await request(a.app).get('/v1/jobs').set('Authorization', `Bearer ${key}`)).status).toBe(401);
    expect((await me(a.app, dave.token)).status).toBe(200);
    expect((await request(a.app).post('/v1/auth/logout').set('Authorization', dave.auth)).status).toBe(204);
    expect((await me(a.app, dave.token)).status).toBe(401);
  });

  it('a cached API key is never taken for a console session (cookie), nor a cached session for a key', async () => {
    const a = await replica();
    const erin = await sessionFor(db, t.config, 'erin-cache@example.com');
    const created = await request(a.app)
      .post('/v1/api-keys')
      .set('Authorization', erin.auth)
      .send({ name: 'k', scopes: ['jobs:read'] });
    const key = created.body.key as string;
    // The key is verified once as a bearer, so this replica's cache now holds it…
    expect((await request(a.app).get('/v1/jobs').set('Authorization', `Bearer ${key}`)).status).toBe(200);
    expect(a.services.authCache.size).toBeGreaterThan(0);
    // …and the same string in the console's cookie is still no session.
    for (const path of ['/v1/jobs', '/v1/me', '/v1/api-keys']) {
      const res = await request(a.app)
        .get(path)
        .set('Cookie', `djs_session=${key}`)
        .set('X-DJS-Console', '1');
      expect(res.status, path).toBe(401);
      expect(res.body.error.code, path).toBe('unauthorized');
    }
    // The session, cached as a session, keeps working as one; as a cookie it works too.
    expect((await me(a.app, erin.token)).status).toBe(200);
    const cookie = await request(a.app)
      .get('/v1/me')
      .set('Cookie', `djs_session=${erin.token}`)
      .set('X-DJS-Console', '1');
    expect(cookie.status).toBe(200);
  });

  it('a logout through replica A ends the session on replica B', async () => {
    const [a, b] = [await replica(), await replica()];
    const bob = await sessionFor(db, t.config, 'bob-cache@example.com');
    expect((await me(b.app, bob.token)).status).toBe(200);
    expect((await request(a.app).post('/v1/auth/logout').set('Authorization', bob.auth)).status).toBe(204);
    await waitFor(
      async () => (await me(b.app, bob.token)).status === 401,
      'B refusing the ended session',
      5000,
    );
  });

  it('without its LISTEN connection a replica checks the database on every request', async () => {
    const b = await replica();
    const carol = await sessionFor(db, t.config, 'carol-cache@example.com');
    const created = await request(b.app)
      .post('/v1/api-keys')
      .set('Authorization', carol.auth)
      .send({ name: 'k', scopes: ['jobs:read'] });
    const key = created.body.key as string;
    expect((await request(b.app).get('/v1/jobs').set('Authorization', `Bearer ${key}`)).status).toBe(200);
    expect(b.services.authCache.size).toBeGreaterThan(0);
    // Cut every LISTEN connection (as a database failover would); the cache empties and is bypassed.
    await db.pool.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'djs-api-auth-listen' AND datname = current_database()`,
    );
    await waitFor(() => b.services.authCache.size === 0, 'the cache to empty');
    // A revocation that sends no notice (done by hand in SQL) is seen at once.
    await db.pool.query(`UPDATE api_keys SET revoked_at = now() WHERE id = $1`, [created.body.id]);
    const res = await request(b.app).get('/v1/jobs').set('Authorization', `Bearer ${key}`);
    // Either still deaf (checked in the database) or already reconnected (cache emptied): refused.
    expect(res.status).toBe(401);
  });
});
