import net from 'node:net';
import express from 'express';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { createPool } from '../../src/db/pool.ts';
import { expectedMigration } from '../../src/db/migrate.ts';
import { databaseReady, healthRoutes } from '../../src/http/routes/health.ts';
import { Metrics } from '../../src/observability/metrics.ts';

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

  it('readiness never shows the database error to the caller (host, port, user, database), only logs it', async () => {
    // A port nobody listens on: bind one, then close it.
    const closed = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as net.AddressInfo;
        s.close(() => resolve(port));
      });
    });
    // And a live server asked for a role and a database that do not exist: its errors name them.
    const missing = new URL(db.url);
    missing.username = 'readyz_nobody';
    missing.password = 'readyz_secret';
    missing.pathname = '/readyz_nowhere';
    const targets = [
      {
        url: `postgres://readyz_user:readyz_pw@127.0.0.1:${closed}/readyz_db`,
        secrets: ['127.0.0.1', String(closed), 'readyz_user', 'readyz_pw', 'readyz_db', 'ECONNREFUSED'],
        logged: String(closed),
      },
      {
        url: missing.toString(),
        secrets: [missing.hostname, missing.port, 'readyz_nobody', 'readyz_secret', 'readyz_nowhere'],
        logged: 'readyz_',
      },
    ];
    for (const target of targets) {
      const lines: string[] = [];
      const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
      const pool = createPool(target.url, { max: 1 });
      try {
        const app = express().use(
          healthRoutes({
            checks: [databaseReady(pool, await expectedMigration(), log)],
            metrics: new Metrics(),
          }),
        );
        const res = await request(app).get('/readyz');
        expect(res.status).toBe(503);
        expect(res.body).toEqual({ status: 'unavailable', checks: { database: 'unreachable' } });
        for (const s of target.secrets.filter(Boolean)) expect(res.text, s).not.toContain(s);
        // The operator still gets the driver's reason, in the log.
        expect(lines).toHaveLength(1);
        expect(JSON.parse(lines[0]!)).toMatchObject({ level: 40, msg: 'readiness: database unreachable' });
        expect(lines[0]).toContain(target.logged);
      } finally {
        await pool.end();
      }
    }
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
