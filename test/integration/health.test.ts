import net from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { createTestApp, testConfig, type TestApp } from '../helpers/app.ts';
import { createPool } from '../../src/db/pool.ts';
import { expectedMigration } from '../../src/db/migrate.ts';
import { databaseReady, operationsApp } from '../../src/http/routes/health.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { silentLogger } from '../../src/logger.ts';
import { startServer } from '../../src/server.ts';
import { startSchedulerProcess } from '../../src/scheduler/process.ts';

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
  it('liveness answers ok, on the public port and on the operations listener', async () => {
    for (const app of [t.app, t.metricsApp]) {
      const res = await request(app).get('/healthz');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: 'ok' });
    }
  });

  it('readiness: the public port answers the status only, the operations listener each check', async () => {
    const pub = await request(t.app).get('/readyz');
    expect(pub.status).toBe(200);
    expect(pub.body).toEqual({ status: 'ready' });
    const ops = await request(t.metricsApp).get('/readyz');
    expect(ops.status).toBe(200);
    expect(ops.body).toEqual({ status: 'ready', checks: { database: 'ok' } });
  });

  it('/metrics is not on the public port: a JSON 404 like any unknown path', async () => {
    const res = await request(t.app).get('/metrics');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
    expect(res.text).not.toContain('djs_');
  });

  it('readiness fails when the schema is behind the build; only the operations listener says why', async () => {
    const { rows } = await db.pool.query(
      `DELETE FROM schema_migrations WHERE name = (SELECT max(name) FROM schema_migrations) RETURNING *`,
    );
    try {
      const pub = await request(t.app).get('/readyz');
      expect(pub.status).toBe(503);
      expect(pub.body).toEqual({ status: 'unavailable' });
      const ops = await request(t.metricsApp).get('/readyz');
      expect(ops.status).toBe(503);
      expect(ops.body.status).toBe('unavailable');
      expect(ops.body.checks.database).toMatch(/^schema at .*, expected /);
    } finally {
      await db.pool.query(
        `INSERT INTO schema_migrations SELECT * FROM json_populate_record(NULL::schema_migrations, $1)`,
        [JSON.stringify(rows[0])],
      );
    }
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
        const app = operationsApp({
          checks: [databaseReady(pool, await expectedMigration(), log)],
          metrics: new Metrics(),
        });
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

  it('metrics are exposed in Prometheus format on the operations listener', async () => {
    await request(t.app).get('/healthz');
    const res = await request(t.metricsApp).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toContain('djs_http_request_duration_seconds');
    const unknown = await request(t.metricsApp).get('/v1/jobs');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('not_found');
  });
});

describe('the API process (startServer)', () => {
  it('serves /metrics and detailed readiness on METRICS_PORT, and neither on the public port', async () => {
    const server = await startServer(
      testConfig(db.url, { HOST: '127.0.0.1', PORT: '0', METRICS_PORT: '0', METRICS_HOST: '127.0.0.1' }),
      silentLogger,
    );
    try {
      const pub = server.url.replace('localhost', '127.0.0.1');
      const ops = server.metricsUrl.replace('localhost', '127.0.0.1');
      expect(new URL(ops).port).not.toBe(new URL(pub).port);

      const metrics = await request(pub).get('/metrics');
      expect(metrics.status).toBe(404);
      expect(metrics.body.error.code).toBe('not_found');
      const ready = await request(pub).get('/readyz');
      expect([ready.status, ready.body]).toEqual([200, { status: 'ready' }]);
      expect((await request(pub).get('/healthz')).body).toEqual({ status: 'ok' });

      const detail = await request(ops).get('/readyz');
      expect([detail.status, detail.body]).toEqual([200, { status: 'ready', checks: { database: 'ok' } }]);
      expect((await request(ops).get('/healthz')).body).toEqual({ status: 'ok' });
      const scraped = await request(ops).get('/metrics');
      expect(scraped.status).toBe(200);
      // The API's own metrics (this process's registry, Node's process metrics included).
      expect(scraped.text).toMatch(/^# TYPE djs_jobs_created_total counter$/m);
      expect(scraped.text).toMatch(/^# TYPE djs_http_request_duration_seconds histogram$/m);
      expect(scraped.text).toMatch(/^process_cpu_user_seconds_total /m);
      // The public request above was counted; scrapes of METRICS_PORT are not API traffic.
      expect(scraped.text).toMatch(
        /^djs_http_request_duration_seconds_count\{[^}]*status_class="4xx"\} [1-9]/m,
      );
      expect(scraped.text).not.toContain('route="/metrics"');
    } finally {
      await server.stop();
    }
  });
});

describe('the scheduler process (startSchedulerProcess)', () => {
  it('serves the same operations listener on METRICS_PORT, with its claim loop among the checks', async () => {
    const running = await startSchedulerProcess(
      testConfig(db.url, { METRICS_PORT: '0', METRICS_HOST: '127.0.0.1' }),
      silentLogger,
    );
    try {
      const ops = running.metricsUrl.replace('localhost', '127.0.0.1');
      const ready = await request(ops).get('/readyz');
      expect([ready.status, ready.body]).toEqual([
        200,
        { status: 'ready', checks: { database: 'ok', claim_loop: 'ok' } },
      ]);
      expect((await request(ops).get('/healthz')).body).toEqual({ status: 'ok' });
      const scraped = await request(ops).get('/metrics');
      expect(scraped.status).toBe(200);
      expect(scraped.text).toMatch(/^# TYPE djs_job_fire_lateness_seconds histogram$/m);
      expect((await request(ops).get('/v1/jobs')).status).toBe(404);
    } finally {
      await running.stop();
    }
  });
});
