import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';

let db: TestDb;
let t: TestApp;
beforeAll(async () => {
  db = await createTestDb();
  t = await createTestApp(db);
});
afterAll(async () => {
  await t.close();
  await db.drop();
});

describe('health endpoints', () => {
  it('liveness answers ok', async () => {
    const res = await request(t.app).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('readiness reports the database migrated to the expected version', async () => {
    const res = await request(t.app).get('/readyz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ready', checks: { database: 'ok' } });
  });

  it('readiness fails when the schema is behind the build', async () => {
    await db.pool.query(
      `DELETE FROM schema_migrations WHERE name = (SELECT max(name) FROM schema_migrations)`,
    );
    const res = await request(t.app).get('/readyz');
    expect(res.status).toBe(503);
    expect(res.body.checks.database).toMatch(/expected/);
  });

  it('an unknown route is a JSON 404 with a stable code', async () => {
    const res = await request(t.app).get('/nope');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
    expect(res.headers['x-request-id']).toBeTruthy();
  });

  it('metrics are exposed in Prometheus format', async () => {
    const res = await request(t.app).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toContain('djs_http_request_duration_seconds');
  });
});
