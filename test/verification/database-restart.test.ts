// Database restart mid-drain, on a dedicated embedded Postgres: the scheduler and the API keep
// running, the API answers 503 (never 500) while the database is down, and once it is back every
// job completes without restarting anything.
import pg from 'pg';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScratchPostgres, withDatabase, type ScratchPostgres } from '../../src/db/embedded.ts';
import { migrateUp } from '../../src/db/migrate.ts';
import { createPool } from '../../src/db/pool.ts';
import { silentLogger } from '../../src/logger.ts';
import { createTestApp, sessionFor, type TestApp } from '../helpers/app.ts';
import { startServer, waitFor, type TestServer } from '../helpers/http.ts';
import { createUser, startScheduler, type TestScheduler } from '../helpers/scheduler.ts';
import type { TestDb } from '../helpers/db.ts';

let pgServer: ScratchPostgres;
let db: TestDb;
let app: TestApp;
let sched: TestScheduler;
let receiver: TestServer;

beforeAll(async () => {
  // Persistent, so stop() + start() below is a restart with the data kept.
  pgServer = await startScratchPostgres({ prefix: 'djs-restart-', persistent: true });
  const admin = new pg.Client({ connectionString: pgServer.url });
  await admin.connect();
  await admin.query('CREATE DATABASE restart_test');
  await admin.end();
  const url = withDatabase(pgServer.url, 'restart_test');
  await migrateUp(url, silentLogger);
  const pool = createPool(url, { max: 10 });
  db = { url, name: 'restart_test', pool, drop: () => pool.end() };
  receiver = await startServer((_q, res) => void setTimeout(() => res.writeHead(204).end(), 5));
}, 60_000);

afterAll(async () => {
  await sched?.stop(0);
  await app?.close();
  await receiver.close();
  await db.pool.end();
  await pgServer.destroy();
}, 60_000);

describe('database restart', () => {
  it('mid-drain: API answers 503 while down, everything resumes without a restart, nothing is lost', async () => {
    app = await createTestApp(db);
    const { auth } = await sessionFor(db, app.config, 'restart@example.com');
    const user = await createUser(db);
    // 1,500 jobs spread over the next 3 s, so the outage falls in the middle of the drain.
    await db.pool.query(
      `INSERT INTO jobs (user_id, method, url, body, fire_at, next_attempt_at, timeout_ms, retry_strategy, max_attempts, base_delay_ms, max_delay_ms)
       SELECT $1, 'POST', $2, '{}', t, t, 5000, 'linear', 10, 100, 1000
         FROM (SELECT now() + (g * interval '2 millisecond') AS t FROM generate_series(1, 1500) g) s`,
      [user.id, receiver.url],
    );
    sched = await startScheduler(db, {
      leaseMs: 3000,
      heartbeatIntervalMs: 500,
      reaperIntervalMs: 500,
      pollIntervalMs: 1000,
    });
    await waitFor(() => receiver.requests.length > 100, 'the drain to start');

    await pgServer.stop();
    const down = await waitFor(async () => {
      const r = await request(app.app).get('/v1/jobs').set('Authorization', auth);
      return r.status !== 200 && r;
    }, 'the API to notice the outage');
    expect(down.status).toBe(503);
    expect(down.body.error.code).toBe('service_unavailable');
    expect((await request(app.app).get('/readyz')).status).toBe(503);
    expect((await request(app.app).get('/healthz')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1500));
    const arrivedWhileDown = receiver.requests.length;

    await pgServer.start();
    await waitFor(
      async () => {
        try {
          const { rows } = await db.pool.query(
            `SELECT count(*)::int AS n FROM jobs WHERE status = 'succeeded'`,
          );
          return rows[0].n === 1500;
        } catch {
          return false;
        }
      },
      'every job to succeed after the restart',
      60_000,
      100,
    );
    expect((await request(app.app).get('/v1/jobs').set('Authorization', auth)).status).toBe(200);
    expect((await request(app.app).get('/readyz')).status).toBe(200);
    const delivered = new Set(receiver.requests.map((r) => r.headers['webhook-id']));
    expect(delivered.size).toBe(1500);
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM jobs WHERE status <> 'succeeded'`);
    expect(rows[0].n).toBe(0);
    console.log(
      `[db-restart] jobs=1500 requests=${receiver.requests.length} duplicates=${receiver.requests.length - 1500} arrived-before-restart=${arrivedWhileDown}`,
    );
  }, 120_000);
});
